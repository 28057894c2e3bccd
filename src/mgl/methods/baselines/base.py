"""What every neural baseline is as a method: its context prepared, its stages trained, its classifier kept as a head.

A baseline subclasses :class:`NeuralBaseline` and writes :meth:`NeuralBaseline.train`, which
trains on a :class:`~mgl.methods.baselines.tuning.BaselineContext` (the settings, tuning grid and MGL's
validation rows for the experiment and seed, :func:`make_context`) and returns a
:class:`~mgl.methods.baselines.common.Fitted`; the fitted classifier becomes an
:class:`~mgl.methods.heads.mlp.MLPHead`.
"""

from __future__ import annotations

import time

import torch

from mgl.config import MGLConfig
from mgl.methods.base import Method
from mgl.methods.baselines.common import (
    BaselineOptions,
    Fitted,
    Settings,
    ValidationSet,
    mgl_validation_rows,
    small_model_threads,
    tuning_grid,
)
from mgl.methods.baselines.tuning import BaselineContext


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


class NeuralBaseline(Method):
    """A neural baseline: :meth:`train` on the prepared context, the classifier kept as an MLP head."""

    def train(self, ctx: BaselineContext) -> Fitted:
        raise NotImplementedError

    def _fit(self, data, features, *, seed, device, progress, checkpoint, resume):
        from mgl.methods.heads.mlp import MLPHead

        ctx = make_context(
            data, features, self.config.mgl, seed=seed, device=device, progress=progress, options=self.options
        )
        with small_model_threads(features, ctx.device):
            t0 = time.perf_counter()
            fitted = self.train(ctx)
            seconds = time.perf_counter() - t0
        report = {
            "train_seconds": seconds,
            "n_train": int(fitted.n_train),
            "stages": [s.to_dict() for s in fitted.stages],
            "options": ctx.options.to_dict(),
        }
        return MLPHead(fitted.model, fitted.head), report, None
