"""Baselines, one per module, on the same encoder, splits and validation data as MGL.

Neural baselines (the paper's, Sec. 5.1), registered in :data:`BASELINES` and run by
:func:`run_baseline`; their shared classifier, training loop and tuning are in
:mod:`mgl.baselines.common`:

* ``target-only`` (:mod:`~mgl.baselines.target_only`): the target's few labels alone;
* ``fine-tune`` (:mod:`~mgl.baselines.fine_tune`): the sources, then the target;
* ``mix`` (:mod:`~mgl.baselines.mix`): every language's labelled data pooled;
* ``multi-task`` (:mod:`~mgl.baselines.multi_task`): a shared body, one head per language;
* ``reptile`` (:mod:`~mgl.baselines.reptile`): first-order meta-learning over the sources,
  then adaptation on the target.

The logistic-regression references live in :mod:`mgl.baselines.logistic_regression`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from mgl.baselines import fine_tune, mix, multi_task, reptile, target_only
from mgl.baselines.common import (
    BaselineOptions,
    Fitted,
    Settings,
    ValidationSet,
    mgl_validation_rows,
    predict_proba,
    small_model_threads,
    tuning_grid,
)
from mgl.baselines.tuning import BaselineContext
from mgl.config import MGLConfig
from mgl.errors import ConfigError

BASELINES: dict[str, Callable[[BaselineContext], Fitted]] = {
    "target-only": target_only.fit,
    "mix": mix.fit,
    "multi-task": multi_task.fit,
    "fine-tune": fine_tune.fit,
    "reptile": reptile.fit,
}
"""Name -> ``fit(ctx)``; the names are those of the grid's ``--methods``."""


def make_context(
    data,
    features,
    cfg: MGLConfig,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    progress: bool = False,
    options: BaselineOptions | None = None,
) -> BaselineContext:
    """Settings, tuning grid and MGL's validation rows for one experiment and seed."""
    options = (options or BaselineOptions()).validate()
    table = data.table
    source_rows, target_rows = mgl_validation_rows(table, data.sources, data.target, cfg, seed)
    return BaselineContext(
        table=table,
        sources=list(data.sources),
        target=data.target,
        features=features,
        cfg=cfg,
        options=options,
        settings=Settings.from_configs(cfg, options),
        grid=tuning_grid(options),
        source_validation=[ValidationSet(f"{lang} validation", rows) for lang, rows in source_rows],
        target_validation=[ValidationSet(f"{data.target} validation", target_rows)],
        seed=seed,
        device=torch.device(device),
        progress=progress,
    )


def run_baseline(
    name: str,
    data,
    features,
    cfg: MGLConfig,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    progress: bool = False,
    options: BaselineOptions | None = None,
) -> dict[str, Any]:
    """Train the named baseline on ``data`` (an :class:`~mgl.pipeline.ExperimentData`), score the target's test split.

    Returns the metrics as :func:`mgl.pipeline.run_mgl` does (accuracy, precision,
    recall, f1, averaging, n_test, train_seconds, stages), plus ``n_train`` and the
    stages' chosen learning rates and validation scores.
    """
    from mgl.evaluation import classification_metrics

    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    ctx = make_context(data, features, cfg, seed=seed, device=device, progress=progress, options=options)
    test = data.table.rows(languages=data.target, split="test")
    with small_model_threads(features, ctx.device):
        t0 = time.perf_counter()
        fitted = BASELINES[name](ctx)
        train_seconds = time.perf_counter() - t0
        probs = predict_proba(fitted.model, features, test, fitted.head)
    metrics: dict[str, Any] = classification_metrics(
        data.table.labels[test], probs.argmax(1), data.table.num_classes, data.positive
    )
    metrics.update(
        n_test=len(test),
        n_train=int(fitted.n_train),
        train_seconds=train_seconds,
        stages=[s.to_dict() for s in fitted.stages],
        options=ctx.options.to_dict(),
    )
    return metrics


__all__ = ["BASELINES", "BaselineOptions", "make_context", "run_baseline"]
