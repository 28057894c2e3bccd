"""No stage chooses a model on an empty validation set or on a NaN: every stage that validates
(MGL's meta-train and meta-test, each baseline stage, the logistic regressions' C) raises a
one-line DataError naming the stage and the languages instead (the CLI's exit status 2)."""

from __future__ import annotations

import numpy as np
import pytest
from baseline_helpers import SMALL, run_baseline

import mgl.methods.mgl.training
from mgl.config import BaselineConfig, MGLConfig
from mgl.data.preparation import ExperimentData
from mgl.encoders.node_features import FrozenFeatures
from mgl.errors import DataError
from mgl.methods import BASELINE_METHODS as BASELINES
from mgl.methods.logistic import fit_logistic_regression
from mgl.methods.metrics import mean_nll
from mgl.methods.mgl.training import ExampleTable, build_model, fit_mgl
from mgl.methods.selection import better, require_finite, require_rows

pytestmark = pytest.mark.unit

FAST = dict(SMALL, max_rounds=2, train_episodes=3)


def without_validation(data, languages):
    """The same data with the validation rows of ``languages`` turned into training rows."""
    t = data.table
    splits = t.splits.copy()
    splits[np.isin(t.languages, languages) & (splits == "validation")] = "train"
    return ExperimentData(
        [], ExampleTable(t.languages, t.labels, splits, t.label_names), data.sources, data.target, None
    )


def test_the_rule_and_its_checks():
    assert better(0.5, 1.0, None, None) and better(0.6, 9.0, 0.5, 1.0) and better(0.5, 0.9, 0.5, 1.0)
    assert not better(0.5, 1.0, 0.5, 1.0) and not better(0.4, 0.1, 0.5, 1.0)
    with pytest.raises(DataError, match="meta-test: no validation rows for ja"):
        require_rows("meta-test", [("ja", 0)])
    with pytest.raises(DataError, match="adapt: validation on ja gave accuracy nan"):
        require_finite("adapt", "ja", accuracy=float("nan"), nll=0.3)
    require_finite("adapt", "ja", accuracy=0.5, nll=0.3)
    with pytest.raises(ValueError, match="empty"):
        mean_nll(np.zeros((0, 2)), [])


@pytest.mark.parametrize("missing, stage", [(["en"], "meta-train"), (["ja"], "meta-test")])
def test_mgl_stage_without_validation_rows_is_an_error(make_data, missing, stage):
    X, data = make_data()
    data = without_validation(data, missing)
    cfg = MGLConfig(**FAST)
    with pytest.raises(DataError, match=f"{stage}: no validation rows for {missing[0]}"):
        fit_mgl(
            build_model(cfg, X.shape[1], 2),
            FrozenFeatures(X),
            data.table,
            data.sources,
            data.target,
            cfg,
            seed=0,
            progress=False,
        )


def test_mgl_stage_with_a_nan_score_is_an_error(make_data, monkeypatch):
    X, data = make_data()
    cfg = MGLConfig(**FAST)
    monkeypatch.setattr(mgl.methods.mgl.training, "validate", lambda *a, **k: (float("nan"), 0.5))
    with pytest.raises(DataError, match=r"meta-train: validation on .* gave accuracy nan"):
        fit_mgl(
            build_model(cfg, X.shape[1], 2),
            FrozenFeatures(X),
            data.table,
            data.sources,
            data.target,
            cfg,
            seed=0,
            progress=False,
        )


TARGET_ONLY_VALIDATION = ("target-only", "mix", "multi-task")  # one stage, validated on the target
CASES = [(name, "target") for name in sorted(BASELINES)] + [
    (name, "source") for name in sorted(BASELINES) if name not in TARGET_ONLY_VALIDATION
]


@pytest.mark.parametrize("name, missing", CASES)
def test_every_baseline_stage_refuses_an_empty_validation_set(make_data, name, missing):
    X, data = make_data()
    languages = ["en"] if missing == "source" else ["ja"]
    data = without_validation(data, languages)
    options = BaselineConfig(lrs=[1e-3], weight_decays=[0.0])
    with pytest.raises(DataError, match=f"no validation rows for {languages[0]} validation"):
        run_baseline(name, data, FrozenFeatures(X), MGLConfig(**FAST), seed=0, options=options)


@pytest.mark.parametrize("batched", [True, False], ids=["candidates-stacked", "candidates-one-by-one"])
def test_a_baseline_stage_with_a_nan_score_is_an_error(make_data, monkeypatch, batched):
    X, data = make_data()
    import mgl.methods.baselines.batched
    import mgl.methods.baselines.common

    for scorer in (mgl.methods.baselines.batched, mgl.methods.baselines.common):  # where each stage scores
        monkeypatch.setattr(scorer, "mean_nll", lambda *a, **k: float("nan"))
    options = BaselineConfig(lrs=[1e-3, 3e-3], weight_decays=[0.0], batch_candidates=batched)
    with pytest.raises(DataError, match=r"source: validation on .* gave nll nan"):
        run_baseline("fine-tune", data, FrozenFeatures(X), MGLConfig(**FAST), seed=0, options=options)


def test_logistic_regression_refuses_an_empty_validation_set():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 4)), np.arange(20) % 2
    with pytest.raises(DataError, match="logreg-pooled: no validation rows"):
        fit_logistic_regression(x, y, x[:0], y[:0], stage="logreg-pooled")
    fit = fit_logistic_regression(x, y, x, y, Cs=(0.1, 1.0))
    assert np.isfinite(fit.val_accuracy) and fit.C in (0.1, 1.0)
