"""Output locations are checked before any work, and ``--save`` never deletes what mgl did not write."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_helpers import THREE_CLASS, TINY_SETTINGS, run_mgl

pytestmark = pytest.mark.unit


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
        *extra,
    ]


def test_save_into_a_folder_with_the_users_files_is_refused_before_training(reviews_csv, tiny_bert_dir, tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "thesis.txt").write_text("x")
    code, _out, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", str(project)))
    assert code == 2, err
    assert f"{project}: cannot save a model here" in err and "thesis.txt" in err and "Traceback" not in err
    assert sorted(p.name for p in project.iterdir()) == ["thesis.txt"] and (project / "thesis.txt").read_text() == "x"
    assert not (tmp_path / "run" / "result.json").exists()  # refused before any work


@pytest.mark.process
def test_save_dot_is_refused_and_overwrite_replaces_a_model_only(reviews_csv, tiny_bert_dir, tmp_path):
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "notes.txt").write_text("mine")
    done = subprocess.run(
        [sys.executable, "-m", "mgl", *train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", ".")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and ".: a model is saved into a folder of its own" in done.stderr
    assert sorted(p.name for p in cwd.iterdir()) == ["notes.txt"]  # no ..old.* leftovers, nothing deleted

    model = tmp_path / "model"
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", str(model)))
    assert code == 0, err
    first = json.loads((model / "mgl_model.json").read_text())["saved"]
    code, _, err = run_mgl(*train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", str(model)))
    assert code == 2 and "--overwrite" in err
    code, _, err = run_mgl(
        *train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", str(model), "--overwrite", "--seed", "1")
    )
    assert code == 0, err
    assert json.loads((model / "mgl_model.json").read_text())["config"]["seed"] == 1 and first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("option", ["--out", "--save"])
def test_an_unwritable_location_is_named_as_given(reviews_csv, tiny_bert_dir, tmp_path, option):
    bad = "/proc/mgl-cannot-write-here/x"  # read-only even for root
    args = {
        "--out": train_args(reviews_csv, tiny_bert_dir, bad),
        "--save": train_args(reviews_csv, tiny_bert_dir, tmp_path / "run", "--save", bad),
    }[option]
    code, _, err = run_mgl(*args)
    assert code == 2, err
    assert "/proc/mgl-cannot-write-here" in err and "cannot write" in err and ".tmp" not in err


def test_predict_checks_its_output_before_reading_the_model(tmp_path):
    texts = tmp_path / "in.txt"
    texts.write_text("a text\n")
    code, _, err = run_mgl(
        "predict",
        "--model",
        str(tmp_path / "no-model"),
        "--input",
        str(texts),
        "--output",
        "/proc/mgl-cannot-write-here/out.jsonl",
    )
    assert code == 2 and "cannot write" in err and "/proc/mgl-cannot-write-here" in err
    code, _, err = run_mgl(
        "predict", "--model", str(tmp_path / "no-model"), "--input", str(texts), "--output", str(tmp_path)
    )
    assert code == 2 and "names a folder" in err
