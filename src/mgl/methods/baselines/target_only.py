"""Target-Only: the classifier trained on the target's few labelled instances alone (the lower bound).

One stage, ``target``: minibatches from the target's training rows (the seeded 10%
subsample), validated on the target's validation subset, learning rate and weight decay
tuned on it (:mod:`mgl.methods.baselines.common`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgl.methods.baselines.base import NeuralBaseline

if TYPE_CHECKING:
    from mgl.methods.baselines.common import Fitted
    from mgl.methods.baselines.tuning import BaselineContext


class TargetOnly(NeuralBaseline):
    needs_target_labels = True

    def train(self, ctx: BaselineContext) -> Fitted:
        from mgl.methods.baselines.common import SHARED_HEAD, Fitted, pooled_steps

        model = ctx.classifier()
        rows = ctx.train_rows(ctx.target)
        report = ctx.stage("target", model, pooled_steps(rows), ctx.target_validation)
        return Fitted(model, SHARED_HEAD, [report], n_train=len(rows))
