"""Fine-tune: train on the sources, then fine-tune on the target.

Stage ``source``: minibatches from the sources' pooled training rows, validated on the
sources' validation subsets (MGL's meta-train validation data). Stage ``target``: from the
source stage's best checkpoint, minibatches from the target's few labelled rows,
validated on the target's validation subset (MGL's meta-test validation data). Each stage
tunes its own learning rate and weight decay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgl.methods.baselines.base import NeuralBaseline

if TYPE_CHECKING:
    from mgl.methods.baselines.common import Fitted
    from mgl.methods.baselines.tuning import BaselineContext


class FineTune(NeuralBaseline):
    def train(self, ctx: BaselineContext) -> Fitted:
        from mgl.methods.baselines.common import SHARED_HEAD, Fitted, pooled_steps

        model = ctx.classifier()
        source = ctx.stage("source", model, pooled_steps(ctx.train_rows(ctx.sources)), ctx.source_validation)
        rows = ctx.train_rows(ctx.target)
        stages = [source]
        if len(rows):  # zero-shot: no target stage
            stages.append(ctx.stage("target", model, pooled_steps(rows), ctx.target_validation))
        return Fitted(model, SHARED_HEAD, stages, n_train=len(ctx.train_rows([*ctx.sources, ctx.target])))
