"""Figures (mgl.plots) on synthetic input, and ``mgl plot graph`` / ``mgl plot proportion`` end to end
(the graph map on a tiny model trained through the CLI with the tiny BERT fixture)."""

import json
from pathlib import Path

import cli_helpers
import numpy as np
import pytest

from mgl.plots import plot_graph_map, plot_language_matrix, plot_proportion

pytestmark = pytest.mark.unit

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NODES = ["EN+", "EN-", "FR+", "FR-", "DE+", "DE-", "JA+", "JA-"]


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def near_identity(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = np.eye(8) * 0.97 + rng.uniform(0, 0.01, (8, 8))
    return (m + m.T) / 2


def test_graph_map_png(tmp_path):
    path = plot_graph_map(near_identity(), NODES, tmp_path / "g.png", subtitle="K = 2")
    assert path.stat().st_size > 10_000
    w, h = image_size(path)
    assert w > 1.5 * h > 600  # two panels side by side
    assert not list(tmp_path.glob(".*tmp"))  # written atomically


def test_graph_map_refuses_a_mismatched_matrix(tmp_path):
    with pytest.raises(ValueError, match="nodes"):
        plot_graph_map(np.eye(3), NODES, tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


def test_language_matrix_png_with_a_missing_value(tmp_path):
    m = np.array([[np.nan, 0.01, 0.02], [0.01, 0.005, 0.0], [0.02, 0.0, 0.03]])
    path = plot_language_matrix(m, ["en", "fr", "ja"], tmp_path / "l.png")
    assert path.stat().st_size > 10_000


def test_proportion_png(tmp_path):
    path = plot_proportion(
        [0.1, 0.2, 0.5, 1.0],
        {"MGL": [80, 82, 84, 86], "Reptile": [75, None, 80, 83], "LogReg (pooled)": [79, 81, 83, 85]},
        tmp_path / "p.png",
        errors={"MGL": [1, 1, None, 0.5]},
        note="bars: ±1 std",
    )
    assert path.stat().st_size > 10_000


def test_plot_proportion_command_redraws_from_the_summary(tmp_path):
    from mgl.grid import write_proportion_tables

    summary = {
        "fractions": [0.1, 1.0],
        "methods": ["mgl", "mix"],
        "mean": {"mgl": [80.0, 85.0], "mix": [75.0, 81.0]},
        "std": {"mgl": [1.0, 0.5], "mix": [None, 1.0]},
        "n": {"mgl": [5, 5], "mix": [5, 5]},
        "significance": [None, None],
    }
    write_proportion_tables(tmp_path, summary, meta={}, n_experiments=9, n_seeds=5)
    code, _out, err = cli_helpers.run_mgl("plot", "proportion", tmp_path, "--out", tmp_path / "again.png")
    assert code == 0, err
    assert (tmp_path / "again.png").stat().st_size > 10_000
    code, _out, err = cli_helpers.run_mgl("plot", "proportion", tmp_path / "nowhere")
    assert code == 2 and "no proportion.json" in err


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_bert_dir):
    """A model trained through the CLI on the 3-class CSV (EN+DE -> FR) with the tiny encoder."""
    h = cli_helpers
    root = tmp_path_factory.mktemp("graph_model")
    csv = h.write_reviews_csv(root / "reviews.csv")
    code, _out, err = h.run_mgl(
        "train",
        "--data",
        csv,
        *h.THREE_CLASS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--target-fraction",
        "1.0",
        "--encoder",
        tiny_bert_dir,
        "--out",
        root / "run",
        "--save",
        root / "model",
        "--seed",
        "0",
        "--quiet",
        *h.TINY_SETTINGS,
    )
    assert code == 0, err
    return root


def test_plot_graph_on_a_trained_model(tiny_model, tmp_path):
    out = tmp_path / "map.png"
    code, stdout, err = cli_helpers.run_mgl(
        "plot", "graph", "--model", tiny_model / "model", "--out", out, "--samples", "20", "--quiet"
    )
    assert code == 0, err
    data = json.loads((tmp_path / "map.json").read_text())
    # 3 languages (sources, then the target) x 3 classes
    assert data["nodes"][:3] == ["EN:negative", "EN:neutral", "EN:positive"] and len(data["nodes"]) == 9
    assert data["languages"] == ["en", "de", "fr"] and data["k"] == 2 and data["samples"] == 20
    mean = np.array(data["adjacency_mean"])
    assert mean.shape == (9, 9) and np.allclose(mean, mean.T, atol=1e-5) and (mean >= 0).all()
    assert np.array(data["language_matrix"]).shape == (3, 3)
    assert data["n_target_instances"] == 30  # 10 per class in the CSV's FR train split
    assert "diagonal share" in stdout
    for png in (out, tmp_path / "map_languages.png"):
        assert png.stat().st_size > 10_000


def test_plot_graph_errors_are_one_line(tiny_model, tmp_path):
    h = cli_helpers
    code, _, err = h.run_mgl("plot", "graph", "--model", tmp_path / "none", "--out", tmp_path / "m.png")
    assert code == 2 and "no such model directory" in err
    code, _, err = h.run_mgl("plot", "graph", "--model", tiny_model / "model", "--out", tmp_path / "m.jpg")
    assert code == 2 and ".png" in err
    code, _, err = h.run_mgl(
        "plot", "graph", "--model", tiny_model / "model", "--out", tmp_path / "m.png", "--data", tmp_path / "gone.csv"
    )
    assert code == 2 and "gone.csv" in err and "Traceback" not in err
