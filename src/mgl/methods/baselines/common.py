"""What the neural baselines share: the classifier, the training loop, hyper-parameter selection, scoring.

Fairness
--------
Every baseline reads the same node features as MGL (the same encoder through the same
:class:`~mgl.encoders.node_features.FrozenFeatures` / :class:`~mgl.encoders.node_features.EncoderFeatures` API), the
same :class:`~mgl.data.example_table.ExampleTable` rows and splits, and the same seeded target
subsample (made by :func:`mgl.data.preparation.prepare_data`). On top of the features each trains
:class:`MLPClassifier`::

    Linear(d, hidden_dim) -> LeakyReLU(negative_slope) -> Dropout(dropout) -> Linear(hidden_dim, |Y|)

with ``hidden_dim`` (768), ``negative_slope`` and ``dropout`` (0.5) taken from the
:class:`~mgl.config.MGLConfig` of the run: the same parameter shapes, activation and
dropout as MGL's 2-layer GCN, without the graph. So a difference between MGL and a
baseline is the graph and the episodic training, not the capacity of the read-out.
(PyTorch's default initialisation is used, not MGL's U(-0.01, 0.01): for a plain MLP it is
the standard choice.) With a trainable encoder (``EncoderFeatures``) the same code
fine-tunes it, its weights at ``MGLConfig.encoder_lr``, as the paper fine-tuned mBERT
for every baseline.

Model selection uses the same validation instances as MGL, in the same stage
(:func:`mgl.methods.validation_rows.validation_rows`): a stage that trains on the sources validates on the
sources' validation subsets (mean accuracy over the source languages, as MGL's
meta-train stage averages over its held-out languages); a stage that trains on the
target validates on the target's validation subset. Both are drawn by
:func:`mgl.methods.validation_rows.validation_subset` with one random stream, so they are the very
rows MGL validates on. Test data is never looked at before the final score.

Training loop, the same as MGL's stages (:func:`mgl.methods.rounds.train_in_rounds`)
------------------------------------------------------------------------------------
Adam; gradient l2 norm clipped at ``grad_clip`` (40); minibatches of ``batch_size``
instances (default ``MGLConfig.n_query`` = R = 32: as many labelled loss terms per step as
an MGL episode has query nodes), drawn as shuffled passes over the training rows;
``MGLConfig.train_episodes`` steps per *round*, then a validation check; the best round by
validation accuracy (ties: lower validation NLL) is kept; the stage stops after
``patience`` rounds without improvement or ``max_rounds`` rounds, and the best round is
restored.

Tuning (:func:`mgl.methods.baselines.tuning.fit_stage`), as careful as MGL's
----------------------------------------------------------------------------
Each stage is trained once per point of a small grid, the classifier's learning rate in
``BaselineConfig.lrs`` = {1e-4, 3e-4, 1e-3, 3e-3} times Adam's weight decay in
``BaselineConfig.weight_decays`` = {0, 1e-3}, every point from the same starting weights
with the same minibatch order and dropout masks (common random numbers); the point whose
best round scores highest on the stage's validation data wins (ties: lower NLL, then
the earlier point). Two-stage baselines tune each stage in turn (stage 2 starts from the
stage-1 winner). On frozen features the points train together, each as it would alone
(:mod:`mgl.methods.baselines.batched`). The grid never sees test data.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mgl.config import BaselineConfig, MGLConfig
from mgl.methods.heads.base import score_rows
from mgl.methods.heads.mlp import SHARED_HEAD, MLPClassifier, MLPHead
from mgl.methods.metrics import mean_nll
from mgl.methods.rounds import StageReport


def build_classifier(
    cfg: MGLConfig, in_dim: int, num_classes: int, *, seed: int, heads: Sequence[str] = (SHARED_HEAD,)
) -> MLPClassifier:
    """The classifier of every baseline, initialised from ``seed``."""
    torch.manual_seed(seed)
    return MLPClassifier(
        in_dim,
        num_classes,
        hidden_dim=cfg.hidden_dim,
        dropout=cfg.dropout,
        negative_slope=cfg.negative_slope,
        heads=heads,
    )


@dataclass
class Settings:
    """The training schedule of a baseline stage (from the ``mgl`` and ``baselines`` sections)."""

    steps_per_round: int
    max_rounds: int
    patience: int
    batch_size: int
    grad_clip: float
    encoder_lr: float
    encoder_weight_decay: float

    @classmethod
    def from_configs(cls, cfg: MGLConfig, options: BaselineConfig) -> Settings:
        return cls(
            steps_per_round=cfg.train_episodes,
            max_rounds=cfg.max_rounds,
            patience=cfg.patience,
            batch_size=options.batch_size or cfg.n_query,
            grad_clip=cfg.grad_clip,
            encoder_lr=cfg.encoder_lr,
            encoder_weight_decay=cfg.weight_decay,
        )


@dataclass(frozen=True)
class Hyper:
    """One point of the tuning grid."""

    lr: float
    weight_decay: float


def tuning_grid(options: BaselineConfig) -> list[Hyper]:
    return [Hyper(lr, wd) for lr in options.lrs for wd in options.weight_decays]


@dataclass
class ValidationSet:
    """Validation rows scored by one head (the rows MGL validates on in the same stage)."""

    name: str
    rows: np.ndarray
    head: str = SHARED_HEAD


class BatchStream:
    """Minibatches of row indices: consecutive slices of shuffled passes over ``rows``."""

    def __init__(self, rows: np.ndarray, batch_size: int):
        if len(rows) == 0:
            raise ValueError("no training rows")
        self.rows = np.asarray(rows, dtype=np.int64)
        self.batch_size = batch_size
        self._order = np.empty(0, dtype=np.int64)
        self._pos = 0

    def next(self, rng: np.random.Generator) -> np.ndarray:
        if self._pos >= len(self._order):
            self._order = rng.permutation(self.rows)
            self._pos = 0
        batch = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return batch


@dataclass
class StepContext:
    """What a training step needs; ``params`` are every trainable weight (classifier and encoder)."""

    model: Any
    """The :class:`MLPClassifier` trained (a :class:`mgl.methods.baselines.batched.CandidateGroup` of them when
    candidates train side by side)."""
    features: Any
    optimizer: torch.optim.Optimizer
    params: list[torch.nn.Parameter]
    rng: np.random.Generator
    labels: np.ndarray
    settings: Settings
    hyper: Hyper | None
    device: torch.device

    def clip_gradients(self) -> None:
        torch.nn.utils.clip_grad_norm_(self.params, self.settings.grad_clip)


StepFn = Callable[[StepContext], float | np.ndarray]
"""One training step (or, for Reptile, one outer step); returns the mean training loss (one per
candidate where candidates train side by side)."""


def supervised_step(ctx: StepContext, rows: np.ndarray, head: str = SHARED_HEAD) -> float | np.ndarray:
    """One Adam step on the cross-entropy of a minibatch, gradient norm clipped; the loss.

    With a group of candidates (:mod:`mgl.methods.baselines.batched`: one logits tensor per candidate)
    the backward pass runs through the sum of their losses, returned per candidate.
    """
    logits = ctx.model(ctx.features(rows), head)
    if isinstance(logits, list):  # a CandidateGroup: each candidate's own loss, one backward through their sum
        y = torch.as_tensor(ctx.labels[rows], device=logits[0].device)
        losses = torch.stack([F.cross_entropy(out, y) for out in logits])
        loss = losses.sum()
    else:
        y = torch.as_tensor(ctx.labels[rows], device=logits.device)
        losses = None
        loss = F.cross_entropy(logits, y)
    ctx.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    ctx.clip_gradients()
    ctx.optimizer.step()
    if losses is not None:
        return losses.detach().cpu().numpy().astype(np.float64)
    return float(loss.item())


def pooled_steps(rows: np.ndarray, head: str = SHARED_HEAD) -> Callable[[Settings], StepFn]:
    """A step factory: minibatches drawn from one pool of training rows."""

    def make(settings: Settings) -> StepFn:
        stream = BatchStream(rows, settings.batch_size)
        return lambda ctx: supervised_step(ctx, stream.next(ctx.rng), head)

    return make


@dataclass
class TunedStageReport(StageReport):
    """What one stage did (as MGL's stage report), plus the winning grid point and every point's score."""

    lr: float = float("nan")
    weight_decay: float = float("nan")
    candidates: list[dict] = field(default_factory=list)


def predict_proba(model: MLPClassifier, features, rows: np.ndarray, head: str = SHARED_HEAD) -> np.ndarray:
    """Class probabilities ``[len(rows), |Y|]`` through the product's one scorer
    (:func:`mgl.methods.heads.base.score_rows` of the classifier as an :class:`~mgl.methods.heads.mlp.MLPHead`, in
    eval mode); the classifier's mode is restored."""
    was_training = model.training
    try:
        return score_rows(MLPHead(model, head), features, np.asarray(rows, dtype=np.int64))
    finally:
        model.train(was_training)


def validate(
    model: MLPClassifier, features, validation: Sequence[ValidationSet], labels: np.ndarray
) -> tuple[float, float]:
    """Mean accuracy and mean NLL over the validation sets."""

    accs, nlls = [], []
    for vs in validation:
        probs = predict_proba(model, features, vs.rows, vs.head)
        accs.append(float((probs.argmax(1) == labels[vs.rows]).mean()))
        nlls.append(mean_nll(probs, labels[vs.rows]))
    return float(np.mean(accs)), float(np.mean(nlls))


def snapshot(model: nn.Module, features) -> dict:
    return {"model": copy.deepcopy(model.state_dict()), "encoder": copy.deepcopy(features.state_dict())}


def restore(model: nn.Module, features, state: dict) -> None:
    model.load_state_dict(state["model"])
    features.load_state_dict(state["encoder"])


@dataclass
class Fitted:
    """A trained baseline: the classifier, the head that predicts the target, the stages' reports."""

    model: MLPClassifier
    head: str
    stages: list[TunedStageReport]
    n_train: int
