r"""Reptile: first-order meta-learning over the sources, one task per language, then adaptation on the target.

After Dou et al. (2019, "Investigating Meta-Learning Algorithms for Low-Resource Natural
Language Understanding Tasks"), who meta-learn an initialisation with Reptile (Nichol et
al. 2018) over high-resource tasks and then fine-tune on the low-resource one; here a
task is a source language's training data.

Stage ``meta-train`` (one *outer step* = one call of the step function):

1. draw a source language with probability proportional to its number of training
   instances (Dou et al.'s best task distribution, "PPS"; uniform when, as in
   Webis-CLS-10, the sources are the same size);
2. from the current weights :math:`\theta`, take ``k`` = ``baselines.reptile_inner_steps``
   (default 5) Adam steps on minibatches of that language alone, reaching :math:`\phi`;
3. outer update :math:`\theta \leftarrow \theta + \epsilon(\phi - \theta)`, with
   :math:`\epsilon` = ``baselines.reptile_eps`` (default 0.5, constant), over every
   trainable weight (classifier and, when it trains, encoder).

The inner optimiser is Adam with :math:`\beta_1 = 0` (no momentum carried from one task to
the next, as in Nichol et al.'s implementation) at the *inner learning rate*, tuned from
``baselines.lrs`` = {1e-4, 3e-4, 1e-3, 3e-3} (with the weight decays) on the sources'
validation subsets, where the meta-learned :math:`\theta` is scored as a classifier (one
shared head: the label set is shared). A round costs the same number of minibatch steps
as every other method's, ``MGLConfig.train_episodes`` (75): ``ceil(75 / k)`` = 15 outer
steps; early stopping and the schedule are otherwise those of :mod:`mgl.methods.baselines.common`
(at most ``max_rounds`` = 50 rounds, patience 5 rounds).

Stage ``adapt``: from the best :math:`\theta`, plain fine-tuning on the target's few
labelled rows (Adam, default betas), validated on the target's validation subset, its
learning rate and weight decay tuned again; exactly Fine-tune's second stage.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from mgl.methods.baselines.base import NeuralBaseline

if TYPE_CHECKING:
    from mgl.methods.baselines.common import Fitted
    from mgl.methods.baselines.tuning import BaselineContext

INNER_BETAS = (0.0, 0.999)
"""Adam's betas in Reptile's inner loop: no first moment, so each inner step is its own (Nichol et al.)."""


class Reptile(NeuralBaseline):
    def train(self, ctx: BaselineContext) -> Fitted:
        from mgl.methods.baselines.common import SHARED_HEAD, Fitted, pooled_steps
        from mgl.methods.baselines.reptile_steps import reptile_steps

        model = ctx.classifier()
        tasks = {lang: ctx.train_rows(lang) for lang in ctx.sources}
        k = ctx.options.reptile_inner_steps
        settings = dataclasses.replace(
            ctx.settings, steps_per_round=max(1, math.ceil(ctx.settings.steps_per_round / k))
        )
        meta = ctx.stage(
            "meta-train",
            model,
            reptile_steps(tasks, k, ctx.options.reptile_eps),
            ctx.source_validation,
            settings=settings,
            betas=INNER_BETAS,
        )
        stages = [meta]
        if len(ctx.train_rows(ctx.target)):  # zero-shot: no adaptation stage
            stages.append(ctx.stage("adapt", model, pooled_steps(ctx.train_rows(ctx.target)), ctx.target_validation))
        return Fitted(model, SHARED_HEAD, stages, n_train=len(ctx.train_rows([*ctx.sources, ctx.target])))
