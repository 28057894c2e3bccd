"""The real pipeline on real Webis-CLS-10 data at small scale (skipped where MGL_DATA is unset)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = os.environ.get("MGL_DATA")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not DATA, reason="MGL_DATA is unset: export MGL_DATA=<folder holding cls-acl10-unprocessed/>"),
]


def mgl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgl", *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def test_mgl_run_en_fr_de_to_ja_books_beats_chance(tmp_path):
    out = tmp_path / "run"
    proc = mgl(
        "run",
        "--preset",
        "amazon",
        "--root",
        str(Path(DATA) / "cls-acl10-unprocessed"),
        "--domain",
        "books",
        "--sources",
        "en,fr,de",
        "--target",
        "ja",
        "--target-fraction",
        "0.1",
        "--seed",
        "0",
        "--out",
        str(out),
        "--set",
        "data.max_per_class=40",
        "--set",
        "encoder.max_length=128",
        "--train-episodes",
        "25",
        "--max-rounds",
        "4",
        "--quiet",
        "--method",
        "mgl",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    for key in (
        "method",
        "sources",
        "target",
        "domain",
        "seed",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "n_test",
        "train_seconds",
        "encoder",
    ):
        assert key in result, key
    assert result["method"] == "mgl" and result["target"] == "ja" and result["sources"] == ["en", "fr", "de"]
    assert result["n_test"] == 80  # 40 per class at this scale
    assert result["counts"]["n_train_ja"] == 80  # min(10% of 1600, 40 per class)
    assert [s["name"] for s in result["stages"]] == ["meta-train", "meta-test"]
    assert result["accuracy"] > 0.65, result["accuracy"]  # chance is 0.5
    assert "multilingual-e5-small" in result["encoder"]
    assert "accuracy" in proc.stdout


def test_bad_domain_is_a_one_line_error(tmp_path):
    proc = mgl(
        "run",
        "--root",
        str(Path(DATA) / "cls-acl10-unprocessed"),
        "--domain",
        "kitchen",
        "--out",
        str(tmp_path / "x"),
        "--quiet",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "kitchen" in proc.stderr
    assert not (tmp_path / "x" / "result.json").exists()
