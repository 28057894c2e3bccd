"""The Python API: fit, predict, explain, save and load give the same answers."""

import numpy as np
import pytest

from mgl.classifier import MGLClassifier
from mgl.config import load_config
from mgl.data.tabular import load_table

from cli_helpers import write_reviews_csv


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tiny_bert_dir):
    path = write_reviews_csv(tmp_path_factory.mktemp("api") / "reviews.csv")
    examples = load_table(path, text="text", label="stars", language="lang", split="split",
                          label_map={"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"})
    cfg = load_config("amazon", None, [
        f"encoder.model={tiny_bert_dir}", "encoder.max_length=32", "mgl.n_support=2", "mgl.n_query=6",
        "mgl.k_neighbours=4", "mgl.train_episodes=8", "mgl.max_rounds=2", "mgl.test_episodes=2",
        "mgl.eval_times=2", "mgl.hidden_dim=16", "data.sources=en,de", "data.target=fr",
    ])
    return MGLClassifier(cfg).fit(examples, progress=False)


def test_fit_reports_and_predicts(fitted):
    assert fitted.label_names == ["negative", "neutral", "positive"]
    assert fitted.report["has_test"] and 0.0 <= fitted.report["accuracy"] <= 1.0
    texts = ["very good book", "bad terrible book", "the book"]
    probs = fitted.predict_proba(texts)
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1.0)
    assert fitted.predict(texts) == [fitted.label_names[i] for i in probs.argmax(1)]
    explained = fitted.explain(texts)
    for p in explained:
        assert set(p.language_shares) == {"en", "de"}
        assert sum(p.language_shares.values()) == pytest.approx(1.0, abs=1e-4)
        assert p.neighbours and all(n["id"] and n["language"] in ("en", "de") for n in p.neighbours)


def test_save_load_same_probabilities(fitted, tmp_path):
    texts = ["very good book", "bad terrible book"]
    before = fitted.predict_proba(texts, seed=3)
    fitted.save(tmp_path / "model")
    fitted.save(tmp_path / "model")  # overwriting an existing model directory is atomic too
    again = MGLClassifier.load(tmp_path / "model")
    assert np.allclose(again.predict_proba(texts, seed=3), before, atol=1e-6)
    assert again.label_names == fitted.label_names and again.sources == fitted.sources
    assert len(again.bank) == len(fitted.bank)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_unfitted_classifier_is_a_clear_error():
    from mgl.errors import MGLError

    with pytest.raises(MGLError, match="not trained"):
        MGLClassifier().predict(["x"])


@pytest.fixture(scope="module")
def fitted_top_k(tmp_path_factory, tiny_bert_dir):
    """A model whose encoder's top layer was trained over cached lower-layer states."""
    base = tmp_path_factory.mktemp("api-top-k")
    path = write_reviews_csv(base / "reviews.csv")
    examples = load_table(path, text="text", label="stars", language="lang", split="split",
                          label_map={"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"})
    cfg = load_config("amazon", None, [
        f"encoder.model={tiny_bert_dir}", "encoder.max_length=32", "encoder.train=top-k", "encoder.top_layers=1",
        "mgl.encoder_lr=1e-3", "mgl.n_support=2", "mgl.n_query=6", "mgl.k_neighbours=4", "mgl.train_episodes=8",
        "mgl.max_rounds=2", "mgl.test_episodes=2", "mgl.eval_times=2", "mgl.hidden_dim=16",
        "data.sources=en,de", "data.target=fr",
    ])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MGL_HOME", str(base / "home"))
        clf = MGLClassifier(cfg).fit(examples, progress=False)
        assert list((base / "home" / "prefix-states").glob("*/shard-*.f16"))  # trained over cached states
    return clf


def test_adapted_top_layers_save_load_and_predict_the_same(fitted_top_k, tiny_bert_dir, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    state = fitted_top_k.encoder_state
    assert state and all(".layer.1." in name for name in state)  # the top layer only
    original = AutoModel.from_pretrained(tiny_bert_dir).state_dict()
    changed = [n for n, v in state.items() if not torch.allclose(v, original[n.removeprefix("model.")])]
    assert changed  # training moved the top layer
    texts = ["very good book", "bad terrible book", "the book"]
    before = fitted_top_k.predict_proba(texts, seed=3)
    fitted_top_k.save(tmp_path / "model")
    saved = load_file(str(tmp_path / "model" / "encoder.safetensors"))
    assert set(saved) == set(state)
    again = MGLClassifier.load(tmp_path / "model")
    assert np.allclose(again.predict_proba(texts, seed=3), before, atol=1e-6)
    loaded = dict(again.encoder.named_parameters())
    assert all(torch.equal(loaded[n], v) for n, v in state.items())
