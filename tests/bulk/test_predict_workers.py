"""``mgl predict`` into a folder on worker processes and on a Ray Data actor pool: the shards of
one process, every id once, a killed Ray worker retried, a worker's input error reported as the
single process reports it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bulk_helpers import corpus, read_output, write_parquet_folder
from cli_helpers import kill_after_shards, run_mgl
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.process, pytest.mark.ray]


def mixed_inputs(folder: Path, rows) -> Path:
    """Parquet (small row groups), JSON Lines (with blank lines and a BOM) and CSV (values with
    commas and newlines) holding ``rows`` in this order."""
    folder.mkdir(parents=True, exist_ok=True)
    a, b = len(rows) // 3, 2 * len(rows) // 3
    pq.write_table(
        pa.table({"doc": [r[0] for r in rows[:a]], "body": [r[1] for r in rows[:a]]}),
        folder / "a.parquet",
        row_group_size=17,
    )
    with open(folder / "b.jsonl", "w", encoding="utf-8-sig") as fh:
        for i, r in enumerate(rows[a:b]):
            fh.write(json.dumps({"doc": r[0], "body": r[1]}, ensure_ascii=False) + "\n" + ("\n" if i % 7 == 3 else ""))
    with open(folder / "c.csv", "w", encoding="utf-8") as fh:
        fh.write("doc,body\n" + "".join(f'{r[0]},"{r[1]},\nend"\n' for r in rows[b:]))
    return folder


def stream_rows(rows):
    """The texts the files above hold, in stream order."""
    _a, b = len(rows) // 3, 2 * len(rows) // 3
    return [r[1] for r in rows[:b]] + [f"{r[1]},\nend" for r in rows[b:]]


def numbered_files(folder: Path, sizes, kinds) -> tuple[list[Path], list[list[str]]]:
    """One file per size, of the given kinds (Parquet in row groups of 3, JSONL with blank lines, CSV
    quoted), holding ``text 0``, ``text 1``, ... in stream order; the files and each one's texts."""
    files, texts_of, n = [], [], 0
    for f, (size, kind) in enumerate(zip(sizes, kinds)):
        texts = [f"text {n + i}" for i in range(size)]
        n += size
        path = folder / f"f{f}.{kind}"
        if kind == "parquet":
            pq.write_table(pa.table({"text": pa.array(texts, pa.string())}), path, row_group_size=3)
        elif kind == "jsonl":
            path.write_text(
                "".join(json.dumps({"text": t}) + ("\n\n" if i % 4 == 1 else "\n") for i, t in enumerate(texts)),
                encoding="utf-8",
            )
        else:
            path.write_text("text\n" + "".join(f'"{t}"\n' for t in texts), encoding="utf-8")
        files.append(path)
        texts_of.append(texts)
    return files, texts_of


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 23), min_size=1, max_size=4),
    shard_rows=st.integers(1, 17),
    kinds=st.lists(st.sampled_from(["parquet", "jsonl", "csv"]), min_size=4, max_size=4),
)
def test_planned_shards_read_what_one_pass_reads(tmp_path_factory, sizes, shard_rows, kinds):
    from mgl.bulk.plan import plan_shards, read_shard
    from mgl.bulk.streaming import read_rows, shards

    files, _ = numbered_files(tmp_path_factory.mktemp("plan"), sizes, kinds)
    expected = list(shards(read_rows(files), shard_rows))
    plan = plan_shards(files, shard_rows)
    assert [s.k for s in plan] == list(range(len(expected)))
    for spec, shard in zip(plan, expected):
        got = read_shard(spec)
        assert (got.texts, got.ids) == (shard.texts, shard.ids)


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 23), min_size=1, max_size=4),
    shard_rows=st.integers(1, 9),
    piece_rows=st.integers(1, 12),
    kinds=st.lists(st.sampled_from(["parquet", "jsonl", "csv"]), min_size=4, max_size=4),
)
def test_file_plans_cover_every_row_once(tmp_path_factory, sizes, shard_rows, piece_rows, kinds):
    """The Ray path's plan: each file's first row in the stream and its rows; a text file's pieces,
    read from their marks, give its rows in order, once."""
    from unittest import mock

    from mgl.bulk import plan as plan_module
    from mgl.bulk.streaming import file_rows

    files, expected = numbered_files(tmp_path_factory.mktemp("fileplan"), sizes, kinds)
    with mock.patch.object(plan_module, "PIECE_ROWS", piece_rows):
        plans, error = plan_module.file_plans(files, shard_rows)
    assert error is None and [p.index for p in plans] == list(range(len(files)))
    first = 0
    for p, texts in zip(plans, expected):
        assert (p.first, p.rows) == (first, len(texts))
        first += len(texts)
        if p.fmt != "parquet":
            got = []
            for piece in p.pieces:
                assert piece.rows >= min(piece_rows, len(texts) - piece.start)
                for r in file_rows(p.path, start=piece.start, count=piece.rows, mark=piece.mark):
                    got += r.texts
            assert got == texts


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_chars_ensemble"])
def test_worker_processes_and_ray_write_the_shards_of_one_process(request, fixture, tmp_path, ray_cluster):
    """... for MGL and for a model with a member that reads the texts themselves (char n-grams)."""
    tiny_model = request.getfixturevalue(fixture)
    rows = corpus(420, seed=3)
    src = mixed_inputs(tmp_path / "in", rows)
    args = [
        "predict",
        "--model",
        tiny_model,
        "--input",
        src,
        "--text-column",
        "body",
        "--id-column",
        "doc",
        "--shard-rows",
        "50",
        "--quiet",
    ]
    outs = {}
    for name, extra in {
        "one": [],
        "local-2": ["--workers", "2"],
        "ray-2": ["--executor", "ray", "--address", ray_cluster, "--workers", "2"],
    }.items():
        code, stdout, err = run_mgl(*args, *extra, "--output", tmp_path / name)
        assert code == 0, err
        assert "predicted 420 texts from 3 file(s) into 9 shard(s)" in stdout
        outs[name], parts = read_output(tmp_path / name)
        assert [p.name for p in parts] == [f"part-{k:05d}.parquet" for k in range(9)]
    assert outs["one"]["doc"] == [r[0] for r in rows]
    from mgl.model.classifier import Classifier

    clf = Classifier.from_pretrained(tiny_model)
    expected = clf.predict_proba(stream_rows(rows))
    for name, table in outs.items():
        assert table["doc"] == outs["one"]["doc"], name  # every id once, in input order
        got = np.stack([table[f"p_{c}"] for c in clf.label_names], axis=1)
        np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=name)
        assert table["label"] == outs["one"]["label"], name


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_workers_input_error_names_the_file_and_record(tiny_model, tmp_path, executor, ray_cluster):
    rows = corpus(60, seed=4)
    src = mixed_inputs(tmp_path / "in", rows)
    with open(src / "b.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"doc": "bad", "body": "   "}) + "\n")
    extra = ["--workers", "2"] + (["--executor", "ray", "--address", ray_cluster] if executor == "ray" else [])
    code, _, err = run_mgl(
        "predict",
        "--model",
        tiny_model,
        "--input",
        src,
        "--text-column",
        "body",
        "--id-column",
        "doc",
        "--shard-rows",
        "10",
        "--output",
        tmp_path / "out",
        "--quiet",
        *extra,
    )
    assert code == 2, err
    last_line = (src / "b.jsonl").read_bytes().count(b"\n")  # a record is named by its line, blank lines included
    assert f"b.jsonl, record {last_line}: empty text (field 'body')" in err
    assert "Traceback" not in err


def _map_workers() -> set[int]:
    """The processes of Ray Data's map actors on this machine."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"MapWorker" in cmdline:
                pids.add(int(proc.name))
    return pids


def test_a_ray_worker_killed_mid_run_is_retried_and_every_id_written_once(tiny_model, tmp_path, ray_cluster):
    rows = corpus(6000, seed=5)
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
    out = tmp_path / "ray"
    before = _map_workers()
    victim, returncode, stdout, stderr = kill_after_shards(
        [*args, "--output", out, "--executor", "ray", "--address", ray_cluster, "--workers", "2"],
        out,
        3,
        victims=lambda pid: _map_workers() - before,
    )  # a Ray actor dies in the middle of the run
    assert victim is not None, "the run finished before a worker could be killed"
    assert returncode == 0, stderr[-3000:]
    assert "predicted 6000 texts" in stdout
    a, _ = read_output(whole)
    b, parts = read_output(out)
    assert len(parts) == 60
    assert b["doc"] == [r[0] for r in rows] and len(set(b["doc"])) == len(rows)  # every id exactly once
    assert b["label"] == a["label"]
    for col in a:
        if col.startswith("p_"):
            np.testing.assert_allclose(b[col], a[col], atol=1e-6)


def _children(pid: int) -> set[int]:
    """The pool's worker processes under ``pid`` (spawned: their command line runs spawn_main)."""
    import psutil

    found = set()
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.Error:
            continue
    return found


def test_a_local_worker_killed_mid_run_stops_with_one_line_and_the_rerun_finishes_the_same(tiny_model, tmp_path):
    rows = corpus(6000, seed=6)
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
    out = tmp_path / "local"
    victim, returncode, _, stderr = kill_after_shards(
        [*args, "--output", out, "--workers", "2"], out, 3, victims=_children
    )  # a worker process dies mid-run
    assert victim is not None, "the run finished before a worker could be killed"
    assert returncode == 1, stderr[-3000:]
    assert "a worker process died" in stderr and "Traceback" not in stderr, stderr[-3000:]
    before = len(list(out.glob("part-*.parquet")))
    assert 3 <= before < 60
    code, stdout, err = run_mgl(*args, "--output", str(out), "--workers", "2")
    assert code == 0, err
    assert f"continued after {before} finished shard(s)" in stdout
    a, _ = read_output(whole)
    b, _ = read_output(out)
    assert b["doc"] == [r[0] for r in rows]  # every id exactly once
    assert b["label"] == a["label"]
    for col in a:
        if col.startswith("p_"):
            np.testing.assert_allclose(b[col], a[col], atol=1e-6)


def test_items_and_results_travel_as_json_and_npz_exactly():
    from mgl.bulk.executors import pack, unpack

    rng = np.random.default_rng(0)
    record = {
        "k": 7,
        "ids": ["a", "é☃", ""],
        "pairs": [None, "x"],
        "label_names": ["neg", "pos"],
        "probs": rng.random((3, 2)),
        "vectors": rng.standard_normal((3, 4)).astype(np.float32),
    }
    back = unpack(pack(record))
    assert {k: v for k, v in back.items() if not isinstance(v, np.ndarray)} == {
        k: v for k, v in record.items() if not isinstance(v, np.ndarray)
    }
    for key in ("probs", "vectors"):
        assert back[key].dtype == record[key].dtype and np.array_equal(back[key], record[key])
    with pytest.raises(ValueError):  # an object array would need pickle: refused on loading
        unpack(pack({"bad": np.array([{"x": 1}], dtype=object)}))
