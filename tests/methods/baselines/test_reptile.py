"""Reptile: the outer update moves theta towards phi by epsilon; one outer step = k steps on one language."""

import copy

import numpy as np
import pytest
import torch

from mgl.config import BaselineConfig, MGLConfig
from mgl.encoders.node_features import FrozenFeatures
from mgl.methods.baselines.common import Hyper, Settings, StepContext, build_classifier
from mgl.methods.baselines.reptile import INNER_BETAS
from mgl.methods.baselines.reptile_steps import outer_update, reptile_steps

pytestmark = pytest.mark.unit


def test_outer_update_moves_theta_towards_phi_by_eps():
    torch.manual_seed(0)
    theta = [torch.randn(3, 4), torch.randn(4)]
    phi = [torch.randn(3, 4), torch.randn(4)]
    params = [torch.nn.Parameter(p.clone()) for p in phi]
    outer_update(params, theta, 0.25)
    for p, t, f in zip(params, theta, phi):
        assert torch.allclose(p, t + 0.25 * (f - t))
    params = [torch.nn.Parameter(p.clone()) for p in phi]
    outer_update(params, theta, 1.0)  # eps = 1: phi itself
    assert all(torch.allclose(p, f) for p, f in zip(params, phi))


def _ctx(model, features, labels, cfg, seed):
    settings = Settings.from_configs(cfg, BaselineConfig())
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-2, betas=INNER_BETAS)
    return StepContext(
        model,
        features,
        opt,
        params,
        np.random.default_rng(seed),
        labels,
        settings,
        Hyper(1e-2, 0.0),
        torch.device("cpu"),
    )


def test_one_outer_step_interpolates_between_theta_and_k_inner_steps(make_data):
    X, data = make_data()
    features = FrozenFeatures(X)
    cfg = MGLConfig(hidden_dim=16, n_query=8, dropout=0.0)
    tasks = {lang: data.table.rows(languages=lang, split="train") for lang in data.sources}
    model = build_classifier(cfg, X.shape[1], 2, seed=0)
    theta = [p.detach().clone() for p in model.parameters()]

    full = copy.deepcopy(model)  # eps = 1: the model after k plain steps, phi
    reptile_steps(tasks, inner_steps=3, eps=1.0)(Settings.from_configs(cfg, BaselineConfig()))(
        _ctx(full, features, data.table.labels, cfg, seed=7)
    )
    half = copy.deepcopy(model)
    reptile_steps(tasks, inner_steps=3, eps=0.5)(Settings.from_configs(cfg, BaselineConfig()))(
        _ctx(half, features, data.table.labels, cfg, seed=7)
    )
    for t, phi, p in zip(theta, full.parameters(), half.parameters()):
        assert not torch.allclose(phi, t)
        assert torch.allclose(p, t + 0.5 * (phi - t), atol=1e-6)
