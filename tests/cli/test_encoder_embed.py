"""``mgl encoder embed``: a training corpus into the embedding cache, here, on worker processes or
on a Ray Data actor pool; the same vectors from each, and a training run afterwards embeds nothing."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import THREE_CLASS, TINY_SETTINGS, run_mgl

pytestmark = pytest.mark.unit


def _cache_vectors(home) -> dict[str, np.ndarray]:
    from mgl.encoders import EmbeddingCache

    with EmbeddingCache(home / "embeddings") as cache:
        conn = cache._connection()
        keys = [bytes(row[0]).hex() for row in conn.execute("SELECT key FROM vectors")]
        return cache.get_many(keys)


@pytest.mark.process
@pytest.mark.ray
def test_every_executor_fills_the_cache_alike_and_training_then_embeds_nothing(
    tiny_bert_dir, reviews_csv, tmp_path, monkeypatch, ray_cluster
):
    common = [
        "encoder",
        "embed",
        "--data",
        reviews_csv,
        "--columns",
        "text=text,label=stars,language=lang,split=split",
        "--set",
        f"encoder.model={tiny_bert_dir}",
        "--set",
        "encoder.precision=fp32",
        "--set",
        "encoder.max_length=32",
        "--chunk-rows",
        "16",
        "--quiet",
    ]
    homes = {}
    for name, extra in {
        "here": [],
        "local-2": ["--workers", "2"],
        "ray-2": ["--executor", "ray", "--address", ray_cluster, "--workers", "2"],
    }.items():
        homes[name] = tmp_path / name
        monkeypatch.setenv("MGL_HOME", str(homes[name]))
        code, out, err = run_mgl(*common, *extra)
        assert code == 0, err
        assert "were cached" in out and " 0 were cached" in out, out
    vectors = {name: _cache_vectors(home) for name, home in homes.items()}
    assert len(vectors["here"]) > 50
    for name in ("local-2", "ray-2"):
        assert vectors[name].keys() == vectors["here"].keys(), name
        for key, v in vectors["here"].items():
            np.testing.assert_allclose(vectors[name][key], v, atol=1e-6, err_msg=name)
    # a second run finds everything; training with the same encoder settings embeds nothing
    monkeypatch.setenv("MGL_HOME", str(homes["ray-2"]))
    code, out, err = run_mgl(*common, "--executor", "ray", "--address", ray_cluster)
    assert code == 0 and " 0 embedded" in out, out + err
    before = len(vectors["ray-2"])
    code, out, err = run_mgl(
        "train",
        "--data",
        reviews_csv,
        *THREE_CLASS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--target-fraction",
        "1.0",
        "--encoder",
        tiny_bert_dir,
        "--out",
        tmp_path / "run",
        "--seed",
        "0",
        "--quiet",
        *TINY_SETTINGS,
        "--set",
        "encoder.precision=fp32",
        "--method",
        "logreg-pooled",
    )
    assert code == 0, err
    assert len(_cache_vectors(homes["ray-2"])) == before  # no text was missing


def test_embed_refuses_settings_that_are_not_a_frozen_encoders(tiny_bert_dir, reviews_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("MGL_HOME", str(tmp_path))
    code, _, err = run_mgl(
        "encoder",
        "embed",
        "--data",
        reviews_csv,
        "--columns",
        "text=text,label=stars,language=lang",
        "--set",
        f"encoder.model={tiny_bert_dir}",
        "--set",
        "encoder.train=all",
        "--quiet",
    )
    assert code == 2 and "frozen encoder" in err
    code, _, err = run_mgl("encoder", "embed", "--data", reviews_csv, "--set", "mgl.k=3", "--quiet")
    assert code == 2 and "data and encoder settings only" in err


def test_a_missing_data_file_is_named_as_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("MGL_HOME", str(tmp_path))
    for command in (
        ["encoder", "embed", "--quiet"],
        ["train", "--sources", "en", "--target", "fr", "--out", str(tmp_path / "run")],
    ):
        code, _, err = run_mgl(*command, "--data", tmp_path / "nope.csv")
        assert code == 2 and "nope.csv" in err and "nor an existing file" in err, err
