"""Mix: every language's labelled training data pooled, one classifier trained once.

One stage, ``mix``: minibatches drawn uniformly from the union of the sources' training
rows and the target's few labelled rows (so each minibatch mixes languages in proportion
to their data), validated on the target's validation subset (the data the model is
for, as MGL's meta-test stage), learning rate and weight decay tuned on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgl.methods.baselines.base import NeuralBaseline

if TYPE_CHECKING:
    from mgl.methods.baselines.common import Fitted
    from mgl.methods.baselines.tuning import BaselineContext


class Mix(NeuralBaseline):
    def train(self, ctx: BaselineContext) -> Fitted:
        from mgl.methods.baselines.common import SHARED_HEAD, Fitted, pooled_steps

        model = ctx.classifier()
        rows = ctx.train_rows([*ctx.sources, ctx.target])
        report = ctx.stage("mix", model, pooled_steps(rows), ctx.target_validation)
        return Fitted(model, SHARED_HEAD, [report], n_train=len(rows))
