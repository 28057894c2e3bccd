"""The shared pieces: the classifier's shapes, the minibatch stream, MGL's validation rows, tuning."""

import numpy as np
import pytest
import torch

import mgl.methods.mgl.training
from mgl.config import BaselineConfig, MGLConfig
from mgl.encoders.node_features import FrozenFeatures
from mgl.errors import ConfigError
from mgl.methods.baselines.common import (
    BatchStream,
    Hyper,
    MLPClassifier,
    Settings,
    ValidationSet,
    build_classifier,
    pooled_steps,
    validate,
)
from mgl.methods.baselines.tuning import fit_stage, train_rounds
from mgl.methods.mgl.training import build_model, fit_mgl
from mgl.methods.validation_rows import validation_rows

pytestmark = pytest.mark.unit


def test_classifier_has_the_shapes_of_mgls_two_layer_gcn():
    cfg = MGLConfig()
    gcn = build_model(cfg, 384, 2)
    gcn_shapes = [tuple(p.shape) for n, p in gcn.named_parameters() if n.startswith("layers.")]
    mlp = build_classifier(cfg, 384, 2, seed=0)
    assert [tuple(p.shape) for p in mlp.parameters()] == gcn_shapes
    assert isinstance(mlp.body[1], torch.nn.LeakyReLU) and mlp.body[2].p == cfg.dropout == 0.5


def test_batch_stream_visits_every_row_once_per_pass():
    rows = np.arange(10, 33)
    stream = BatchStream(rows, 5)
    rng = np.random.default_rng(0)
    first_pass = np.concatenate([stream.next(rng) for _ in range(5)])  # 5+5+5+5+3
    assert sorted(first_pass.tolist()) == rows.tolist()
    assert len(stream.next(rng)) == 5  # a new shuffled pass begins


def test_validation_rows_are_the_ones_mgl_validates_on(monkeypatch, make_data):
    X, data = make_data()
    cfg = MGLConfig(
        n_support=3,
        n_query=8,
        k_neighbours=6,
        hidden_dim=16,
        train_episodes=2,
        max_rounds=1,
        test_episodes=2,
        eval_times=1,
    )
    seen = []
    original = mgl.methods.mgl.training.validate

    def spy(model, features, tasks, cfg, seed):
        seen.append([t.query.tolist() for t in tasks])
        return original(model, features, tasks, cfg, seed)

    monkeypatch.setattr(mgl.methods.mgl.training, "validate", spy)
    fit_mgl(
        build_model(cfg, X.shape[1], 2),
        FrozenFeatures(X),
        data.table,
        data.sources,
        data.target,
        cfg,
        seed=5,
        progress=False,
    )
    rows = validation_rows(data.table, data.sources, data.target, cfg, seed=5)
    source, target = rows.sources, rows.target
    assert seen[0] == [r.tolist() for _, r in source]  # meta-train stage: each held-out source
    assert seen[1] == [target.tolist()]  # meta-test stage: the target
    assert [lang for lang, _ in source] == data.sources
    assert len(target) == cfg.test_episodes * cfg.n_query  # a subset, as MGL draws it
    other_target = validation_rows(data.table, data.sources, data.target, cfg, seed=6).target
    assert other_target.tolist() != target.tolist()


def _stage_setup(make_data):
    X, data = make_data()
    features = FrozenFeatures(X)
    cfg = MGLConfig(hidden_dim=32, train_episodes=10, max_rounds=6, patience=2)
    settings = Settings.from_configs(cfg, BaselineConfig())
    val = [ValidationSet("ja", data.table.rows(languages="ja", split="validation"))]
    rows = data.table.rows(languages=["en", "fr", "de", "ja"], split="train")
    return X, data, features, cfg, settings, val, rows


def test_train_rounds_restores_the_best_checkpoint(make_data):
    X, data, features, cfg, settings, val, rows = _stage_setup(make_data)
    model = build_classifier(cfg, X.shape[1], 2, seed=0)
    report = train_rounds(
        "t", model, features, pooled_steps(rows)(settings), val, data.table.labels, settings, Hyper(3e-3, 0.0), seed=0
    )
    acc, nll = validate(model, features, val, data.table.labels)
    assert (acc, nll) == (report.best_accuracy, report.best_nll)
    assert report.history[report.best_round - 1]["val_accuracy"] == acc
    assert report.rounds <= cfg.max_rounds and report.steps == report.rounds * cfg.train_episodes
    assert settings.batch_size == cfg.n_query


def test_fit_stage_keeps_the_grid_point_best_on_validation(make_data):
    X, data, features, cfg, settings, val, rows = _stage_setup(make_data)
    model = build_classifier(cfg, X.shape[1], 2, seed=0)
    # lr 1e-7 barely moves the weights: the larger learning rate must win
    report = fit_stage(
        "t",
        model,
        features,
        pooled_steps(rows),
        val,
        data.table.labels,
        settings,
        [Hyper(1e-7, 0.0), Hyper(3e-3, 0.0)],
        seed=0,
    )
    assert report.lr == 3e-3
    assert [c["lr"] for c in report.candidates] == [1e-7, 3e-3]
    assert report.candidates[1]["best_accuracy"] > report.candidates[0]["best_accuracy"]
    assert validate(model, features, val, data.table.labels)[0] == report.best_accuracy


def test_every_grid_point_starts_from_the_same_weights(make_data):
    X, data, features, cfg, settings, val, rows = _stage_setup(make_data)
    model = build_classifier(cfg, X.shape[1], 2, seed=0)
    report = fit_stage(
        "t",
        model,
        features,
        pooled_steps(rows),
        val,
        data.table.labels,
        settings,
        [Hyper(3e-3, 0.0), Hyper(3e-3, 0.0)],
        seed=0,
    )
    a, b = report.candidates
    assert a == b  # same start, same minibatches and dropout masks: the same run


def test_options_are_validated():
    with pytest.raises(ConfigError):
        BaselineConfig(lrs=()).validate()
    with pytest.raises(ConfigError):
        BaselineConfig(reptile_eps=1.5).validate()
    with pytest.raises(ValueError):
        MLPClassifier(4, 2, heads=())
