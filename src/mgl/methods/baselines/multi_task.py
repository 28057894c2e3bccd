"""Multi-task: a shared body and one classification head per language; the target uses its own head.

The body (the encoder, when it trains, and ``Linear -> LeakyReLU -> Dropout``) is shared;
each language (every source and the target) has its own ``Linear(hidden_dim, |Y|)`` head.
One stage, ``multi-task``: each step draws one language uniformly at random and takes a
minibatch of its training rows through its head, so the target's task gets a quarter of
the steps with three sources (proportional sampling would give its 160 instances about 3%
of them). Validation: the target's validation subset through the target's head (MGL's
meta-test validation data); learning rate and weight decay tuned on it. Test: the target's
head.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgl.methods.baselines.base import NeuralBaseline

if TYPE_CHECKING:
    import numpy as np

    from mgl.methods.baselines.common import Fitted, Settings, StepFn
    from mgl.methods.baselines.tuning import BaselineContext


class MultiTask(NeuralBaseline):
    needs_target_labels = True  # the target's own head

    def train(self, ctx: BaselineContext) -> Fitted:
        from mgl.methods.baselines.common import BatchStream, Fitted, ValidationSet, supervised_step

        languages = [*ctx.sources, ctx.target]
        model = ctx.classifier(heads=languages)

        def make_step(settings: Settings) -> StepFn:
            streams = {lang: BatchStream(ctx.train_rows(lang), settings.batch_size) for lang in languages}

            def step(sc) -> float | np.ndarray:
                lang = languages[int(sc.rng.integers(len(languages)))]
                return supervised_step(sc, streams[lang].next(sc.rng), lang)

            return step

        validation = [ValidationSet(vs.name, vs.rows, ctx.target) for vs in ctx.target_validation]
        report = ctx.stage("multi-task", model, make_step, validation)
        return Fitted(model, ctx.target, [report], n_train=len(ctx.train_rows(languages)))
