"""Multi-task: one head per language over a shared body; the target is predicted by its own head."""

import pytest
import torch

from mgl.config import BaselineConfig, RunConfig
from mgl.encoders.node_features import FrozenFeatures
from mgl.methods.baselines.multi_task import MultiTask
from mgl.methods.baselines.tuning import make_context

pytestmark = pytest.mark.unit


def test_one_head_per_language_and_the_target_uses_its_own(small_cfg, make_data):
    X, data = make_data()
    ctx = make_context(data, FrozenFeatures(X), small_cfg, BaselineConfig(lrs=[3e-3], weight_decays=[0.0]), seed=0)
    init = ctx.classifier(heads=["en", "fr", "de", "ja"])
    fitted = MultiTask("multi-task", RunConfig(mgl=small_cfg)).train(ctx)
    assert sorted(fitted.model.heads) == ["de", "en", "fr", "ja"]
    assert fitted.head == "ja"
    for lang, head in fitted.model.heads.items():
        assert head.weight.shape == (2, small_cfg.hidden_dim)
        assert not torch.equal(head.weight, init.heads[lang].weight), f"head {lang} was never trained"
    # the heads are different classifiers over the same body
    assert not torch.equal(fitted.model.heads["ja"].weight, fitted.model.heads["en"].weight)
