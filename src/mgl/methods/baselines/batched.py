r"""A baseline stage's hyper-parameter candidates trained together, each exactly as it would train alone.

On frozen features a baseline stage trains :class:`~mgl.methods.baselines.common.MLPClassifier`
once per point of its tuning grid (8 points: 4 learning rates x 2 weight decays), every
point from the same start with the same minibatches and dropout masks (common random
numbers, :mod:`mgl.methods.baselines.common`). The points differ only in the optimiser's
settings, so one step can serve all of them:

.. math::
    z_c = \mathrm{Dropout}_m(\mathrm{LeakyReLU}(h W_{1,c}^\top + b_{1,c})), \qquad
    \mathrm{logits}_c = z_c W_{2,c}^\top + b_{2,c}, \qquad
    \mathcal{L} = \sum_c \mathrm{CE}(\mathrm{logits}_c, y),

with one minibatch lookup ``h`` and one dropout mask ``m`` drawn for all candidates (the
ones each would draw alone, from the same seeds), one backward pass through the sum (whose
gradient with respect to candidate ``c``'s weights is candidate ``c``'s own), the
gradient norm clipped per candidate, and one call of torch's fused Adam with a parameter
group per candidate (its learning rate and weight decay). Every per-candidate operation is
the one the candidate runs alone, so the result is the sequential run's, bit for bit on one
device (``tests/methods/baselines/test_batched.py`` compares weights after every round).

Each candidate keeps its own early stopping: :func:`mgl.methods.rounds.train_in_rounds` trains,
each round, only the candidates whose patience is left; a stopped candidate has no gradient
and Adam skips it. Reptile's inner Adam steps and outer step, and Multi-task's per-language
heads, are the same step functions applied to the group.

Why a loop over candidates rather than weights stacked into ``[C, ...]`` tensors and one
batched matrix product (``torch.func.stack_module_state`` + ``vmap``): on this project's CPU a
step of one candidate is already bound by the arithmetic of its two matrix products (d = 384
to 768 hidden units, 32 rows), so stacking saves no arithmetic, and the stacked weights and
optimiser state (8 x 1.2 MB) no longer fit the core's cache; measured, a stacked step of 8
candidates took 45 ms against 8 x 1.8 ms one by one. What the candidates can share is what is
not arithmetic: the minibatch lookup, the dropout draw (torch's Bernoulli sampling is a fifth
of a step), the autograd and optimiser calls and the Python around them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from mgl.methods.baselines.common import SHARED_HEAD, Hyper, MLPClassifier, StepContext, ValidationSet, predict_proba
from mgl.methods.metrics import mean_nll
from mgl.methods.rounds import make_adam


class CandidateGroup:
    """Candidates of one :class:`MLPClassifier` shape, called like one model: a list of logits, one per candidate.

    ``active`` (indices) restricts calls to the candidates still training; one dropout mask
    serves them all.
    """

    def __init__(self, models: Sequence[MLPClassifier]):
        self.models = list(models)
        self.active = list(range(len(self.models)))
        self.training = True

    def __call__(self, h: torch.Tensor, head: str = SHARED_HEAD) -> list[torch.Tensor]:
        first = self.models[self.active[0]]
        dropout = cast(torch.nn.Dropout, first.body[2])
        width = cast(torch.nn.Linear, first.body[0]).out_features
        mask = None
        if self.training and dropout.p > 0:
            # the draw each candidate's nn.Dropout makes alone (same shape, same generator)
            mask = F.dropout(torch.ones(h.shape[0], width, dtype=h.dtype, device=h.device), dropout.p, True)
        out = []
        for c in self.active:
            model = self.models[c]
            z = model.body[1](model.body[0](h))
            if mask is not None:
                z = z * mask
            out.append(model.heads[head](z))
        return out

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for c in self.active for p in self.models[c].parameters()]

    def train(self, mode: bool = True) -> None:
        self.training = mode
        for model in self.models:
            model.train(mode)


class GroupStepContext(StepContext):
    """A :class:`StepContext` whose model is a :class:`CandidateGroup`: gradients clipped per candidate."""

    def clip_gradients(self) -> None:
        group = cast(CandidateGroup, self.model)
        for c in group.active:
            torch.nn.utils.clip_grad_norm_(list(group.models[c].parameters()), self.settings.grad_clip)


class BatchedTrainee:
    """Every grid point of one baseline stage as the candidates of :func:`mgl.methods.rounds.train_in_rounds`."""

    def __init__(
        self,
        model: MLPClassifier,
        features,
        make_step,
        validation: Sequence[ValidationSet],
        labels: np.ndarray,
        settings,
        grid: Sequence[Hyper],
        *,
        rng: np.random.Generator,
        betas: tuple[float, float] = (0.9, 0.999),
    ):
        self.group = CandidateGroup([copy.deepcopy(model) for _ in grid])
        self.size = len(grid)
        self.features = features
        self.validation = list(validation)
        self.labels = labels
        self.optimizer = make_adam(
            [
                {"params": list(m.parameters()), "lr": h.lr, "weight_decay": h.weight_decay}
                for m, h in zip(self.group.models, grid)
            ],
            betas=betas,
        )
        self.ctx = GroupStepContext(
            self.group, features, self.optimizer, [], rng, labels, settings, None, next(model.parameters()).device
        )
        self.step = make_step(settings)
        self.best: list[dict | None] = [None] * self.size

    def train_round(self, active: np.ndarray, steps: int, tick) -> np.ndarray:
        self.group.active = [int(c) for c in active]
        self.group.train()
        self.features.train()
        self.ctx.params = self.group.parameters()
        losses = []
        for _ in range(steps):
            losses.append(np.asarray(self.step(self.ctx), dtype=np.float64))
            tick(1)
        return np.mean(losses, axis=0)

    def validate(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:

        accs, nlls = [], []
        for c in active:
            model = self.group.models[int(c)]
            acc, nll = [], []
            for vs in self.validation:
                probs = predict_proba(model, self.features, vs.rows, vs.head)
                acc.append(float((probs.argmax(1) == self.labels[vs.rows]).mean()))
                nll.append(mean_nll(probs, self.labels[vs.rows]))
            accs.append(float(np.mean(acc)))
            nlls.append(float(np.mean(nll)))
        return np.array(accs), np.array(nlls)

    def keep(self, which: np.ndarray) -> None:
        for c in which:
            self.best[int(c)] = copy.deepcopy(self.group.models[int(c)].state_dict())

    def restore(self) -> None:
        for model, state in zip(self.group.models, self.best):
            if state is not None:
                model.load_state_dict(state)

    def candidate(self, c: int) -> MLPClassifier:
        """Candidate ``c`` (at its kept weights, after training)."""
        return self.group.models[c]


def stackable(features, model) -> bool:
    """Whether a stage can train its candidates as a group: frozen features (no encoder weights to share)."""
    return not getattr(features, "trainable", False) and not features.parameters() and isinstance(model, MLPClassifier)


__all__ = ["BatchedTrainee", "CandidateGroup", "GroupStepContext", "stackable"]
