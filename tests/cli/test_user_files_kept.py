"""Every output path keeps the user's data (issue: one guard for every output, one reader for every
file). Each reproduction of the hostile-user report is a test here: the command exits 2 before any
work, naming the path, and the user's files are byte-identical afterwards (or, for ``--out X
--save X``, the command is refused before training)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_helpers import THREE_CLASS, TINY_SETTINGS, run_mgl

pytestmark = pytest.mark.unit

FIVE_ROW_TSV = 'text\n"Great" book\n"Unclosed start\nrow three\nrow "four"\nrow five\n'
FIVE_TEXTS = ['"Great" book', '"Unclosed start', "row three", 'row "four"', "row five"]


def train_args(reviews_csv, encoder, out, *extra):
    return [
        "train",
        "--data",
        str(reviews_csv),
        *THREE_CLASS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--target-fraction",
        "1.0",
        "--encoder",
        str(encoder),
        "--out",
        str(out),
        "--seed",
        "0",
        "--quiet",
        *TINY_SETTINGS,
        "--set",
        "encoder.precision=fp32",
        "--method",
        "logreg-pooled",
        *extra,
    ]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- mgl predict --output FILE ---------------------------------------------------------------------


def test_predict_never_overwrites_a_users_file_and_replaces_its_own(tiny_logreg, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "great good book"}\n', encoding="utf-8")
    mine = tmp_path / "notes.jsonl"
    mine.write_bytes(b"my own notes\n")
    code, _, err = run_mgl("predict", "--model", tiny_logreg, "--input", src, "--output", mine, "--quiet")
    assert code == 2 and f"{mine}: --output exists and mgl did not write it" in err and "Traceback" not in err
    assert mine.read_bytes() == b"my own notes\n"
    # mgl's own earlier predictions are replaced without asking; the user's only with --overwrite
    out = tmp_path / "pred.jsonl"
    for _ in range(2):
        code, _, err = run_mgl("predict", "--model", tiny_logreg, "--input", src, "--output", out, "--quiet")
        assert code == 0, err
    code, _, err = run_mgl(
        "predict", "--model", tiny_logreg, "--input", src, "--output", mine, "--quiet", "--overwrite"
    )
    assert code == 0, err and json.loads(mine.read_text().splitlines()[0])["text"] == "great good book"


def test_predict_never_writes_over_its_own_input_even_with_overwrite(tiny_logreg, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text":"a"}\n')
    for extra in ([], ["--overwrite"]):
        code, _, err = run_mgl("predict", "--model", tiny_logreg, "--input", src, "--output", src, "--quiet", *extra)
        assert code == 2 and "is an input of this command" in err, err
        assert src.read_bytes() == b'{"text":"a"}\n'


def test_predict_never_writes_into_a_model_folder(tiny_logreg, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_logreg, model)
    before = snapshot(model)
    src = tmp_path / "in.txt"
    src.write_text("great good book\n", encoding="utf-8")
    for target in (model / "examples.jsonl", model / "new.jsonl"):
        code, _, err = run_mgl(
            "predict", "--model", model, "--input", src, "--output", target, "--quiet", "--overwrite"
        )
        assert code == 2 and "inside the mgl model folder" in err, err
    assert snapshot(model) == before
    code, _, err = run_mgl("predict", "--model", model, "--input", src, "--output", tmp_path / "ok.jsonl", "--quiet")
    assert code == 0, err  # the model still loads: its checksums hold


def test_a_failed_folder_run_leaves_no_manifest_behind(tiny_logreg, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text('{"text": "good"}\n{"text": "  "}\n', encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = run_mgl("predict", "--model", tiny_logreg, "--input", src, "--output", out, "--quiet")
    assert code == 2 and "a.jsonl, record 2: empty text" in err, err
    assert not out.exists()  # refused before the work: no folder, no _mgl_predict.json


def test_a_folder_output_inside_its_input_folder_is_refused(tiny_logreg, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text('{"text": "good"}\n', encoding="utf-8")
    code, _, err = run_mgl("predict", "--model", tiny_logreg, "--input", src, "--output", src / "out", "--quiet")
    assert code == 2 and "inside the input folder" in err
    assert sorted(p.name for p in src.iterdir()) == ["a.jsonl"]


# -- the five-row TSV: one reader for every path ---------------------------------------------------


def test_the_five_row_tsv_is_five_records_on_every_path(tiny_logreg, tmp_path):
    tsv = tmp_path / "five.tsv"
    tsv.write_text(FIVE_ROW_TSV, encoding="utf-8")
    code, _, err = run_mgl(
        "predict", "--model", tiny_logreg, "--input", tsv, "--output", tmp_path / "p.jsonl", "--quiet"
    )
    assert code == 0, err
    assert "record 2 holds a quote that does not wrap its field" in err  # said once, with the record
    single = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in single] == FIVE_TEXTS
    code, _, err = run_mgl(
        "predict",
        "--model",
        tiny_logreg,
        "--input",
        tsv,
        "--output",
        tmp_path / "shards",
        "--output-format",
        "jsonl",
        "--quiet",
    )
    assert code == 0, err
    shards = [
        json.loads(line)
        for p in sorted((tmp_path / "shards").glob("part-*.jsonl"))
        for line in p.read_text(encoding="utf-8").splitlines()
    ]
    assert [r["id"] for r in shards] == [f"five.tsv:{i}" for i in range(1, 6)]
    # the same probabilities on both paths: the same texts reached the model
    for a, b in zip(single, shards):
        for label, p in b["probabilities"].items():
            assert abs(a["probabilities"][label] - p) < 1e-5
    # training reads the same five texts
    labelled = tmp_path / "five_labelled.tsv"
    labelled.write_text("text\tlabel\tlanguage\n" + "".join(f"{t}\tpos\ten\n" for t in FIVE_TEXTS), encoding="utf-8")
    from mgl.data.user_files import load_table

    assert [ex.text for ex in load_table(labelled)] == FIVE_TEXTS


def test_text_is_kept_as_written_by_training_and_prediction(tmp_path):
    """Surrounding spaces are part of a text on every path (training used to strip them)."""
    from mgl.cli.predict import read_inputs
    from mgl.data.user_files import load_table

    path = tmp_path / "d.csv"
    path.write_text('text,label,language\n"  padded ",pos,en\n', encoding="utf-8")
    assert [ex.text for ex in load_table(path)] == ["  padded "]
    assert read_inputs(str(path))[0] == ["  padded "]


@pytest.mark.parametrize("char", ["\u2028", "\x0c", "\x85"])
def test_unicode_line_separators_inside_a_text_break_no_record(tmp_path, char):
    from mgl.cli.predict import read_inputs

    txt = tmp_path / "in.txt"
    txt.write_text(f"one{char}two\nthree\nfour\n", encoding="utf-8")
    texts, _, ids = read_inputs(str(txt))
    assert texts == [f"one{char}two", "three", "four"] and ids == ["1", "2", "3"]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(f'{{"text": "a{char}b"}}\n{{"text": "c"}}\n', encoding="utf-8")
    assert read_inputs(str(jsonl))[0] == [f"a{char}b", "c"]


def test_utf16_files_read_alike_on_every_path(tmp_path):
    from mgl.bulk.streaming import read_rows
    from mgl.cli.predict import read_inputs
    from mgl.errors import DataError

    with_bom = tmp_path / "bom.csv"
    with_bom.write_bytes("text,id\nhello,1\nworld,2\n".encode("utf-16"))
    assert read_inputs(str(with_bom))[0] == ["hello", "world"]
    assert [t for r in read_rows([with_bom]) for t in r.texts] == ["hello", "world"]
    without = tmp_path / "nobom.csv"
    without.write_bytes("text,id\nhello,1\n".encode("utf-16-le"))
    for call in (lambda: read_inputs(str(without)), lambda: list(read_rows([without]))):
        with pytest.raises(DataError, match="looks like UTF-16 without a byte-order mark"):
            call()


def test_a_lone_surrogate_id_on_the_folder_path_is_a_clean_error(tiny_logreg, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "good", "doc": "a"}\n{"text": "bad", "doc": "\\ud800"}\n', encoding="utf-8")
    code, _, err = run_mgl(
        "predict", "--model", tiny_logreg, "--input", src, "--id-column", "doc", "--output", tmp_path / "out", "--quiet"
    )
    assert code == 2 and "in.jsonl, record 2: value of 'doc' is not valid Unicode" in err and "Traceback" not in err


def test_a_ten_megabyte_line_is_one_record_named_by_its_line(tmp_path):
    from mgl.bulk.streaming import read_rows
    from mgl.errors import DataError

    path = tmp_path / "big.jsonl"
    path.write_text('{"text": "ok"}\n' + json.dumps({"text": "x" * (10 << 20)}) + "\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"big.jsonl, record 2: the text \(field .text.\) is 10,485,760 characters long, over the limit"
    ):
        list(read_rows([path]))


# -- mgl plot reliability --out --------------------------------------------------------------------


def test_plot_reliability_keeps_a_users_figure_and_numbers(tiny_logreg, tmp_path):
    fig, numbers = tmp_path / "fig.png", tmp_path / "fig.json"
    fig.write_bytes(b"my figure")
    code, _, err = run_mgl("plot", "reliability", "--model", tiny_logreg, "--out", fig)
    assert code == 2 and "fig.png: --out exists and mgl did not write it" in err
    assert fig.read_bytes() == b"my figure" and not numbers.exists()
    fig.unlink()
    numbers.write_bytes(b"{}")
    code, _, err = run_mgl("plot", "reliability", "--model", tiny_logreg, "--out", fig)
    assert code == 2 and "fig.json" in err and not fig.exists() and numbers.read_bytes() == b"{}"
    numbers.unlink()
    for _ in range(2):  # its own figure is replaced
        code, _, err = run_mgl("plot", "reliability", "--model", tiny_logreg, "--out", fig)
        assert code == 0, err


# -- mgl train --out / --save ----------------------------------------------------------------------


def test_train_keeps_a_users_checkpoint_and_result(reviews_csv, tiny_bert_dir, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"my checkpoint")
    (out / "result.json").write_bytes(b'{"mine": 1}')
    before = snapshot(out)
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, out))
    assert code == 2 and "result.json: --out's result.json exists and mgl did not write it" in err, err
    assert snapshot(out) == before
    (out / "result.json").unlink()
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, out))
    assert code == 2 and "checkpoint.pt that mgl did not write" in err, err
    assert (out / "checkpoint.pt").read_bytes() == b"my checkpoint"


def test_train_replaces_its_own_result(reviews_csv, tiny_bert_dir, tmp_path):
    out = tmp_path / "run"
    for _ in range(2):
        code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, out))
        assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["result.json"]


def test_tilde_is_expanded_once(reviews_csv, tiny_bert_dir, tmp_path, monkeypatch):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, "~/x"))
    assert code == 0, err
    assert (home / "x" / "result.json").is_file() and not (cwd / "~").exists()


def test_out_and_save_in_one_folder_are_refused_before_training(reviews_csv, tiny_bert_dir, tmp_path):
    same = tmp_path / "same"
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, same, "--save", same))
    assert code == 2 and "--out names the --save folder" in err
    assert not same.exists() or not any(same.iterdir())


@pytest.mark.slow
def test_overwrite_keeps_an_edited_model_card_unless_told(reviews_csv, tiny_bert_dir, tmp_path):
    model = tmp_path / "model"
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", model))
    assert code == 0, err
    card = model / "README.md"
    card.write_text(card.read_text(encoding="utf-8") + "\nMy notes on this model.\n", encoding="utf-8")
    edited = card.read_bytes()
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", model, "--overwrite"))
    assert code == 2 and "not as checksums.json records: README.md" in err, err
    assert card.read_bytes() == edited
    code, _, err = run_mgl(
        *train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", model, "--overwrite", "--discard-edits")
    )
    assert code == 0, err and b"My notes" not in card.read_bytes()


# -- a full disk -----------------------------------------------------------------------------------


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 2 MB tmpfs filled to the brim, where the machine lets this process mount one (root)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.decode(errors='replace').strip()}); the fault-injected "
            "test covers the same path"
        )
    try:
        with open(mount / "filler", "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


@pytest.mark.process
def test_save_on_a_full_disk_is_refused_before_training(reviews_csv, tiny_bert_dir, tmp_path, full_tmpfs):
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", full_tmpfs / "m"))
    assert code == 2 and "m:" in err and "Traceback" not in err, err
    assert not (tmp_path / "run" / "result.json").exists()


@pytest.mark.process
def test_out_on_a_full_disk_names_the_path(reviews_csv, tiny_bert_dir, full_tmpfs):
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, full_tmpfs / "run"))
    assert code == 2 and str(full_tmpfs / "run") in err and "Traceback" not in err, err
    assert not (full_tmpfs / "run").exists()  # refused before anything was made there


def test_a_write_that_runs_out_of_space_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    """Fault-injected: the disk fills while result.json is written; the earlier file survives."""
    from mgl import io as mgl_io
    from mgl.errors import MGLError

    target = tmp_path / "result.json"
    target.write_text('{"old": 1}\n')

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(mgl_io.os, "fsync", full)
    with pytest.raises(MGLError) as caught:
        mgl_io.write_json_atomic(target, {"new": 2})
    assert caught.value.source == str(target) and "No space left on device" in str(caught.value)
    assert target.read_text() == '{"old": 1}\n' and [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_model_save_that_runs_out_of_space_is_exit_2(reviews_csv, tiny_bert_dir, tmp_path, monkeypatch):
    from mgl.model import saving as model_io

    def full(tensors, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(model_io, "_save_tensors", full)
    model = tmp_path / "model"
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", model))
    assert code == 2 and f"{model}: cannot write: No space left on device" in err and "Traceback" not in err
    assert not model.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".model")]


def test_a_run_that_fails_mid_way_leaves_no_empty_out_folder(reviews_csv, tiny_bert_dir, tmp_path, monkeypatch):
    """The disk fills while the model is saved: the --out folder (and its parent) the run made are
    removed again, being empty; an --out folder that existed before stays, with what it held."""
    from mgl.model import saving as model_io

    def full(tensors, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(model_io, "_save_tensors", full)
    out = tmp_path / "runs" / "one"
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, out, "--save", tmp_path / "model"))
    assert code == 2 and "No space left on device" in err
    assert not (tmp_path / "runs").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, kept, "--save", tmp_path / "model"))
    assert code == 2 and (kept / "notes.txt").read_text() == "mine"


# -- model folders are closed ----------------------------------------------------------------------


def _rewrite(model: Path, name: str, content: str) -> None:
    from mgl.io import sha256_file

    (model / name).write_text(content, encoding="utf-8")
    sums = json.loads((model / "checksums.json").read_text(encoding="utf-8"))
    if name in sums:
        sums[name] = sha256_file(model / name)
    (model / "checksums.json").write_text(json.dumps(sums), encoding="utf-8")


@pytest.mark.parametrize("entry", ["../outside.json", "/etc/hostname", "sub/x.json", "notes.txt"])
def test_checksums_naming_a_path_outside_the_model_are_refused(tiny_logreg, tmp_path, entry):
    model = tmp_path / "model"
    shutil.copytree(tiny_logreg, model)
    sums = json.loads((model / "checksums.json").read_text(encoding="utf-8"))
    sums[entry] = "0" * 64
    (model / "checksums.json").write_text(json.dumps(sums), encoding="utf-8")
    src = tmp_path / "in.txt"
    src.write_text("good\n")
    code, _, err = run_mgl("predict", "--model", model, "--input", src, "--output", tmp_path / "p.jsonl")
    assert code == 2 and "checksums.json" in err and "not a file of an mgl model folder" in err, err


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "3", "null", '{"format": "mgl-model", "version": 2}'])
def test_a_malformed_model_description_is_exit_2_naming_it(tiny_logreg, tmp_path, content):
    model = tmp_path / "model"
    shutil.copytree(tiny_logreg, model)
    _rewrite(model, "mgl_model.json", content)
    src = tmp_path / "in.txt"
    src.write_text("good\n")
    code, _, err = run_mgl("predict", "--model", model, "--input", src, "--output", tmp_path / "p.jsonl")
    assert code == 2 and "mgl_model.json" in err and "Traceback" not in err, err


def test_a_grid_never_overwrites_a_users_table(tiny_bert_dir, tmp_path):
    """`mgl experiment compare --out DIR` where DIR holds the user's own compare.md: refused before any
    work; a folder of an earlier grid (its grid.json) is the grid's own and is written again."""
    root = tmp_path / "data.csv"
    rows = ["text,label,language,split"] + [
        f"{w} {i},{label},{lang},{split}"
        for lang in ("en", "fr")
        for split, n in (("train", 6), ("validation", 3), ("test", 3))
        for label, w in (("pos", "good fine"), ("neg", "bad poor"))
        for i in range(n)
    ]
    root.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "grid"
    out.mkdir()
    (out / "compare.md").write_bytes(b"my table")
    args = [
        "experiment",
        "compare",
        "--data",
        root,
        "--columns",
        "text=text,label=label,language=language,split=split",
        "--languages",
        "en,fr",
        "--targets",
        "fr",
        "--quick",
        "--seeds",
        "1",
        "--methods",
        "mix",
        "--out",
        out,
        "--set",
        f"encoder.model={tiny_bert_dir}",
        "--quiet",
    ]
    code, _, err = run_mgl(*args)
    assert code == 2 and "holds compare.md, which mgl did not write there" in err, err
    assert sorted(p.name for p in out.iterdir()) == ["compare.md"] and (out / "compare.md").read_bytes() == b"my table"
    (out / "compare.md").unlink()
    for _ in range(2):
        code, _, err = run_mgl(*args)
        assert code == 0, err
