"""MGL trained and scored on an experiment, and where the steps before it live.

An experiment's data comes from :mod:`mgl.data.experiment` (:func:`prepare_data`,
:func:`make_experiment_data`), its features from :mod:`mgl.featurizer` (:func:`make_encoder`,
:func:`build_features`); both are re-exported here for the code that imported them from this
module. :func:`run_mgl` trains both of MGL's stages and scores the target's test split as a
saved model predicts (:mod:`mgl.heads.meta_graph`); :func:`check_episodes` fails early when an
episode cannot be drawn.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from mgl.config import MGLConfig
from mgl.data.experiment import (  # noqa: F401
    POSITIVE_NAMES,
    ExperimentData,
    cap_per_class,
    load_examples,
    make_experiment_data,
    positive_index,
    prepare_data,
)
from mgl.evaluation import classification_metrics
from mgl.featurizer import build_features, make_encoder, pooled_state_features  # noqa: F401
from mgl.methods import method_name  # noqa: F401  (re-exported: the name of an MGL configuration)
from mgl.training import build_model, fit_mgl


def run_mgl(
    data: ExperimentData,
    features,
    cfg: MGLConfig,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    progress: bool = True,
    checkpoint=None,
    resume=None,
) -> tuple[dict[str, Any], Any, Any]:
    """Train MGL on ``data`` and score the target's test split. Returns (metrics, model, fit report)."""
    torch.manual_seed(seed)
    model = build_model(cfg, features.dim, data.table.num_classes).to(device)
    fit = fit_mgl(
        model,
        features,
        data.table,
        data.sources,
        data.target,
        cfg,
        seed=seed,
        progress=progress,
        checkpoint=checkpoint,
        resume=resume,
    )
    # the stages' own clocks, which a checkpoint carries over a restart: the whole training time,
    # not only the part since the last --resume
    train_seconds = fit.seconds
    t0 = time.perf_counter()
    test = data.table.rows(languages=data.target, split="test")
    if len(test):
        from mgl.heads import MetaGraphHead, score_rows
        from mgl.heads.fitting import labelled_bank
        from mgl.training import small_graph_threads

        # the product's protocol: each test input the query of its own graph (mgl.heads.meta_graph)
        head = MetaGraphHead.from_bank(
            model.eval(), cfg, labelled_bank(data, features), sources=data.sources, target=data.target, seed=seed
        )
        with small_graph_threads(features, torch.device(device)):
            probs = score_rows(head, features, test)
        metrics = classification_metrics(
            data.table.labels[test], probs.argmax(1), data.table.num_classes, data.positive
        )
    else:
        # nothing evaluated: no number stands in for a score (None is null in result.json)
        metrics = dict.fromkeys(("accuracy", "precision", "recall", "f1"))
        metrics["averaging"] = "none (no test split)"
    metrics.update(
        n_test=len(test),
        train_seconds=train_seconds,
        test_seconds=time.perf_counter() - t0,
        stages=[s.to_dict() for s in fit.stages],
    )
    return metrics, model, fit


def check_episodes(data, cfg) -> None:
    """Build every sampler of both stages once: a language or class too small for N raises DataError."""
    from mgl.training import meta_test_tasks, meta_train_tasks

    rng = np.random.default_rng(0)
    if cfg.meta_train:
        meta_train_tasks(data.table, data.sources, cfg, rng)
    meta_test_tasks(data.table, data.sources, data.target, cfg, rng)
