"""A new method in one file and its registration (an entry point, as a plug-in ships it): it trains,
saves, loads, serves and appears in ``mgl experiment compare`` beside the built-in methods."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import THREE_CLASS, TINY_SETTINGS, run_mgl
from serve_helpers import Server

from mgl.methods import REGISTRY, display_name, load_plugins, unregister
from mgl.model.classifier import Classifier

pytestmark = [pytest.mark.server, pytest.mark.slow]

PLUGIN = Path(__file__).resolve().parents[1] / "fixtures" / "method_plugin"
TEXTS = ["great good love it", "bad terrible boring", "okay fine average"]


@pytest.fixture
def toy_plugin(monkeypatch):
    """The plug-in's folder on this process's path and on its children's (PYTHONPATH)."""
    monkeypatch.syspath_prepend(str(PLUGIN))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGIN), os.environ.get("PYTHONPATH")])))
    load_plugins()
    yield
    unregister("toy-centroid")


def test_a_plugin_method_trains_saves_loads_serves_and_is_compared(toy_plugin, reviews_csv, tiny_bert_dir, tmp_path):
    assert REGISTRY["toy-centroid"].kind == "reference"
    assert display_name("toy-centroid") == "Toy centroid"
    code, _, err = run_mgl(
        "train",
        "--data",
        reviews_csv,
        *THREE_CLASS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--encoder",
        tiny_bert_dir,
        "--out",
        tmp_path / "run",
        "--save",
        tmp_path / "model",
        "--quiet",
        *TINY_SETTINGS,
        "--set",
        "encoder.precision=fp32",
        "--method",
        "toy-centroid",
    )
    assert code == 0, err
    meta = json.loads((tmp_path / "model" / "mgl_model.json").read_text(encoding="utf-8"))
    assert meta["method"] == "toy-centroid" and meta["heads"]["toy-centroid"]["kind"] == "toy-centroid"
    result = json.loads((tmp_path / "run" / "result.json").read_text(encoding="utf-8"))
    assert result["method"] == "toy-centroid" and 0 <= result["accuracy"] <= 1

    clf = Classifier.from_pretrained(tmp_path / "model")
    probs = clf.predict_proba(TEXTS)
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1)
    assert type(clf.head).__name__ == "CentroidHead"

    (tmp_path / "home").mkdir()
    server = Server(tmp_path / "model", tmp_path / "home")  # a fresh process: the plug-in loads there too
    try:
        status, body = server.predict({"texts": TEXTS})
        assert status == 200, body
        served = np.array([[p["probabilities"][name] for name in clf.label_names] for p in body["predictions"]])
        assert np.allclose(served, probs, atol=1e-6)
    finally:
        server.stop()

    code, _, err = run_mgl(
        "experiment",
        "compare",
        "--data",
        reviews_csv,
        *THREE_CLASS,
        "--languages",
        "en,de,fr",
        "--targets",
        "fr",
        "--quick",
        "--seeds",
        "1",
        "--methods",
        "toy-centroid,mix",
        "--out",
        tmp_path / "grid",
        "--set",
        f"encoder.model={tiny_bert_dir}",
        "--set",
        "encoder.precision=fp32",
        "--quiet",
    )
    assert code == 0, err
    table = (tmp_path / "grid" / "compare.md").read_text(encoding="utf-8")
    assert "Toy centroid" in table and "Mix" in table
    cells = [json.loads(p.read_text(encoding="utf-8")) for p in (tmp_path / "grid" / "cells").glob("*.json")]
    assert {c["method"] for c in cells} >= {"toy-centroid", "mix"}

    # without the plug-in, its saved model is refused with the method named (exit status 2)
    unregister("toy-centroid")
    (tmp_path / "in.txt").write_text("some text\n", encoding="utf-8")
    code, _, err = run_mgl(
        "predict", "--model", tmp_path / "model", "--input", tmp_path / "in.txt", "--output", tmp_path / "p.jsonl"
    )
    assert code == 2 and "toy-centroid" in err and "plug-in" in err, err
    assert not (tmp_path / "p.jsonl").exists()
