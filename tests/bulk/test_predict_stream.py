"""``mgl predict`` over a corpus: folders and globs of Parquet/CSV/JSONL in, atomic output shards out,
ids round-tripped, a killed run continued to the same output as an uninterrupted one."""

import json
import signal

import numpy as np
import pytest
from bulk_helpers import corpus, read_output, write_parquet_folder
from cli_helpers import kill_after_shards, run_mgl

pytestmark = pytest.mark.unit


def test_a_parquet_folder_with_an_id_column_round_trips_the_ids(tiny_model, tmp_path):
    from mgl.model.classifier import Classifier

    rows = corpus(230)
    src = write_parquet_folder(tmp_path / "in", rows)
    out = tmp_path / "out"
    code, stdout, err = run_mgl(
        "predict",
        "--model",
        tiny_model,
        "--input",
        src,
        "--output",
        out,
        "--text-column",
        "body",
        "--id-column",
        "doc",
        "--shard-rows",
        "64",
        "--quiet",
    )
    assert code == 0, err
    assert "predicted 230 texts from 3 file(s) into 4 shard(s)" in stdout
    table, parts = read_output(out)
    assert [p.name for p in parts] == [f"part-{k:05d}.parquet" for k in range(4)]
    assert table["doc"] == [r[0] for r in rows]  # every id once, in input order
    clf = Classifier.from_pretrained(tiny_model)
    probs = clf.predict_proba([r[1] for r in rows])
    got = np.stack([table[f"p_{name}"] for name in clf.label_names], axis=1)
    np.testing.assert_allclose(got, probs, atol=1e-6)
    assert table["label"] == [clf.label_names[i] for i in probs.argmax(1)]
    assert not list(out.glob(".*"))  # no temporary leftovers
    # a glob of CSV and JSONL files, jsonl shards, default ids FILE:ROW
    (tmp_path / "more").mkdir()
    with open(tmp_path / "more" / "a.csv", "w", encoding="utf-8") as fh:
        fh.write("text\n" + "\n".join(f'"{r[1]}, ok"' for r in rows[:5]) + "\n")
    with open(tmp_path / "more" / "b.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"text": r[1]}) + "\n" for r in rows[5:9])
    code, stdout, err = run_mgl(
        "predict",
        "--model",
        tiny_model,
        "--input",
        str(tmp_path / "more" / "*"),
        "--output",
        tmp_path / "out2",
        "--output-format",
        "jsonl",
        "--quiet",
    )
    assert code == 0, err
    lines = [json.loads(x) for x in (tmp_path / "out2" / "part-00000.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == [f"a.csv:{i}" for i in range(1, 6)] + [f"b.jsonl:{i}" for i in range(1, 5)]


def test_the_output_folder_is_never_someone_elses(tiny_model, tmp_path):
    src = write_parquet_folder(tmp_path / "in", corpus(20), files=1)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, _, err = run_mgl(
        "predict", "--model", tiny_model, "--input", src, "--output", mine, "--text-column", "body", "--quiet"
    )
    assert code == 2 and "not an mgl prediction" in err and str(mine) in err
    assert (mine / "notes.txt").read_text() == "keep me"
    out = tmp_path / "out"
    assert (
        run_mgl("predict", "--model", tiny_model, "--input", src, "--output", out, "--text-column", "body", "--quiet")[
            0
        ]
        == 0
    )
    code, _, err = run_mgl(
        "predict",
        "--model",
        tiny_model,
        "--input",
        src,
        "--output",
        out,
        "--text-column",
        "body",
        "--shard-rows",
        "5",
        "--quiet",
    )  # another job's options
    assert code == 2 and "another job" in err
    code, _, err = run_mgl(
        "predict",
        "--model",
        tiny_model,
        "--input",
        src,
        "--output",
        tmp_path / "o3",
        "--text-column",
        "missing",
        "--quiet",
    )
    assert code == 2 and "in-0.parquet" in err and "missing" in err


@pytest.mark.process
def test_a_killed_run_continues_to_the_output_of_an_uninterrupted_one(tiny_model, tmp_path):
    rows = corpus(6000, seed=1)
    src = write_parquet_folder(tmp_path / "in", rows, files=2)
    args = [
        "predict",
        "--model",
        str(tiny_model),
        "--input",
        str(src),
        "--text-column",
        "body",
        "--id-column",
        "doc",
        "--shard-rows",
        "100",
        "--quiet",
    ]
    whole = tmp_path / "whole"
    assert run_mgl(*args, "--output", str(whole))[0] == 0
    killed = tmp_path / "killed"
    _, returncode, _, _ = kill_after_shards([*args, "--output", killed], killed, 3)
    assert returncode == -signal.SIGKILL, "the run finished before it could be killed"
    before = len(list(killed.glob("part-*.parquet")))
    assert 3 <= before < 60
    code, stdout, err = run_mgl(*args, "--output", str(killed))
    assert code == 0, err
    assert f"continued after {before} finished shard(s)" in stdout
    a, _ = read_output(whole)
    b, _ = read_output(killed)
    assert b["doc"] == [r[0] for r in rows] and len(set(b["doc"])) == len(rows)  # every id exactly once
    assert a == b
