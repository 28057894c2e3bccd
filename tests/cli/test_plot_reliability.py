"""``mgl plot reliability``: a saved model's reliability diagram from the bins its training recorded."""

import json

import pytest
from cli_helpers import run_mgl

pytestmark = pytest.mark.unit


def test_plot_reliability_of_a_saved_ensemble(tiny_ensemble, tmp_path):
    out = tmp_path / "rel.png"
    code, stdout, err = run_mgl("plot", "reliability", "--model", tiny_ensemble, "--out", out)
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    cal = json.loads(out.with_suffix(".json").read_text())
    assert cal["temperature"] > 0 and set(cal["reliability"]) == {
        "validation_before",
        "validation_after",
        "test_before",
        "test_after",
    }
    counts = sum(b["count"] for b in cal["reliability"]["test_before"])
    assert counts == sum(b["count"] for b in cal["reliability"]["test_after"]) > 0
    assert f"{cal['ece_validation_before']:.4f}" in stdout


def test_plot_reliability_of_a_folder_that_is_no_model(tmp_path):
    code, _, err = run_mgl("plot", "reliability", "--model", tmp_path, "--out", tmp_path / "x.png")
    assert code == 2 and "not a complete mgl model directory" in err


def test_plot_reliability_expands_a_home_folder(tiny_ensemble, tmp_path, monkeypatch):
    """``--model '~/m'`` (quoted, so no shell expanded it) names the model under $HOME, as predict and serve do."""
    import shutil

    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copytree(tiny_ensemble, tmp_path / "m")
    code, _, err = run_mgl("plot", "reliability", "--model", "~/m", "--out", tmp_path / "rel.png")
    assert code == 0, err
    assert (tmp_path / "rel.png").is_file()
