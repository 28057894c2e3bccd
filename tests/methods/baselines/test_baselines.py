"""Every neural baseline trains on a synthetic cross-lingual table, beats chance, and is deterministic."""

import numpy as np
import pytest
import torch
from baseline_helpers import run_baseline

from mgl.config import BaselineConfig
from mgl.encoders.node_features import EncoderFeatures, FrozenFeatures
from mgl.methods import BASELINE_METHODS as BASELINES

pytestmark = pytest.mark.unit

OPTIONS = BaselineConfig(lrs=[1e-3, 3e-3], weight_decays=[0.0])
STAGES = {
    "target-only": ["target"],
    "mix": ["mix"],
    "multi-task": ["multi-task"],
    "fine-tune": ["source", "target"],
    "reptile": ["meta-train", "adapt"],
}


def test_registry_is_the_papers_baselines():
    assert set(BASELINES) == set(STAGES)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baseline_beats_chance_and_reports_its_stages(name, small_cfg, make_data):
    X, data = make_data()
    m = run_baseline(name, data, FrozenFeatures(X), small_cfg, seed=0, options=OPTIONS)
    assert m["accuracy"] > 0.75, (name, m["accuracy"])  # chance is 0.5
    assert m["n_test"] == 80
    assert [s["name"] for s in m["stages"]] == STAGES[name]
    for stage in m["stages"]:
        assert stage["lr"] in OPTIONS.lrs
        assert len(stage["candidates"]) == 2  # every grid point was tried
        assert stage["best_accuracy"] == max(c["best_accuracy"] for c in stage["candidates"])
        assert 1 <= stage["best_round"] <= stage["rounds"] <= small_cfg.max_rounds
    expected_train = 20 if name == "target-only" else 320
    assert m["n_train"] == expected_train


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_same_seed_same_result(name, small_cfg, make_data):
    X, data = make_data()
    a = run_baseline(name, data, FrozenFeatures(X), small_cfg, seed=3, options=OPTIONS)
    b = run_baseline(name, data, FrozenFeatures(X), small_cfg, seed=3, options=OPTIONS)
    for key in ("accuracy", "precision", "recall", "f1"):
        assert a[key] == b[key]
    assert [s["history"] for s in a["stages"]] == [s["history"] for s in b["stages"]]


def test_another_seed_changes_the_run(small_cfg, make_data):
    X, data = make_data()
    a = run_baseline("mix", data, FrozenFeatures(X), small_cfg, seed=0, options=OPTIONS)
    b = run_baseline("mix", data, FrozenFeatures(X), small_cfg, seed=1, options=OPTIONS)
    assert a["stages"][0]["history"] != b["stages"][0]["history"]


def test_unknown_baseline_is_a_config_error(small_cfg, make_data):
    from mgl.errors import ConfigError

    X, data = make_data()
    with pytest.raises(ConfigError, match="unknown method 'zero-shot'"):
        run_baseline("zero-shot", data, FrozenFeatures(X), small_cfg, seed=0)


def test_trainable_encoder_is_fine_tuned(tiny_bert_dir, small_cfg, make_data):
    """With EncoderFeatures the same code trains the encoder (at encoder_lr) with the classifier."""
    from mgl.encoders import EncoderSpec, TextEncoder

    _, data = make_data(n_target=4)
    words = {0: "bad terrible boring", 1: "great good love"}
    rng = np.random.default_rng(0)
    texts = [f"{words[int(c)]} {' '.join(rng.choice(['the', 'a', 'it', 'and'], size=2))}" for c in data.table.labels]
    encoder = TextEncoder(EncoderSpec(str(tiny_bert_dir), pooling="mean", prefix=""), device="cpu")
    encoder.set_trainable("all")
    features = EncoderFeatures(encoder, texts)
    before = {k: v.clone() for k, v in features.state_dict().items()}
    small_cfg.max_rounds, small_cfg.train_episodes, small_cfg.encoder_lr = 1, 3, 1e-3
    m = run_baseline(
        "target-only", data, features, small_cfg, seed=0, options=BaselineConfig(lrs=[1e-3], weight_decays=[0.0])
    )
    assert m["stages"][0]["steps"] == 3
    changed = [k for k, v in features.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "no encoder weight was updated"
