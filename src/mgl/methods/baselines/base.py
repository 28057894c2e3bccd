"""What every neural baseline is as a method: its context prepared, its stages trained, its classifier kept as a head.

A baseline subclasses :class:`NeuralBaseline` and writes :meth:`NeuralBaseline.train`, which
trains on a :class:`~mgl.methods.baselines.tuning.BaselineContext` (the settings, tuning grid and
the validation rows every method chooses on, for the experiment and seed:
:func:`~mgl.methods.baselines.tuning.make_context`) and returns a
:class:`~mgl.methods.baselines.common.Fitted`; the fitted classifier becomes an
:class:`~mgl.methods.heads.mlp.MLPHead`. A baseline reads the ``mgl`` section (its classifier's
shape and schedule are MGL's, by design) and its own ``baselines`` section. torch and the training
code are imported inside the functions that train: the registry imports these classes and stays light.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from mgl.methods.base import FitResult, Method, Training

if TYPE_CHECKING:
    from mgl.methods.baselines.common import Fitted
    from mgl.methods.baselines.tuning import BaselineContext


class NeuralBaseline(Method):
    """A neural baseline: :meth:`train` on the prepared context, the classifier kept as an MLP head."""

    def train(self, ctx: BaselineContext) -> Fitted:
        raise NotImplementedError

    def _fit(self, data, features, run: Training) -> FitResult:
        from mgl.methods.baselines.tuning import make_context
        from mgl.methods.heads.mlp import MLPHead
        from mgl.methods.rounds import small_model_threads

        ctx = make_context(
            data,
            features,
            self.config.mgl,
            self.config.baselines,
            seed=run.seed,
            device=run.device,
            progress=run.progress,
        )
        with small_model_threads(features, ctx.device):
            t0 = time.perf_counter()
            fitted = self.train(ctx)
            seconds = time.perf_counter() - t0
        report = {
            "n_train": int(fitted.n_train),
            "stages": [s.to_dict() for s in fitted.stages],
            "options": ctx.options.to_dict(),
        }
        return FitResult(MLPHead(fitted.model, fitted.head), seconds, report)
