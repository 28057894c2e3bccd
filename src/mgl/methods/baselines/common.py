"""What the neural baselines share: the classifier, the training loop, hyper-parameter selection, scoring.

Fairness
--------
Every baseline reads the same node features as MGL (the same encoder through the same
:class:`~mgl.encoders.node_features.FrozenFeatures` / :class:`~mgl.encoders.node_features.EncoderFeatures` API), the
same :class:`~mgl.methods.mgl.training.ExampleTable` rows and splits, and the same seeded target
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
(:func:`mgl_validation_rows`): a stage that trains on the sources validates on the
sources' validation subsets (mean accuracy over the source languages, as MGL's
meta-train stage averages over its held-out languages); a stage that trains on the
target validates on the target's validation subset. Both are drawn by
:func:`mgl.methods.mgl.training.validation_subset` with MGL's random stream, so they are the very
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
``BaselineOptions.lrs`` = {1e-4, 3e-4, 1e-3, 3e-3} times Adam's weight decay in
``BaselineOptions.weight_decays`` = {0, 1e-3}, every point from the same starting weights
with the same minibatch order and dropout masks (common random numbers); the point whose
best round scores highest on the stage's validation data wins (ties: lower NLL, then
the earlier point). Two-stage baselines tune each stage in turn (stage 2 starts from the
stage-1 winner). On frozen features the points train together, each as it would alone
(:mod:`mgl.methods.baselines.batched`). The grid never sees test data.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mgl.config import MGLConfig
from mgl.errors import ConfigError
from mgl.methods.heads.base import score_rows
from mgl.methods.heads.mlp import SHARED_HEAD, MLPClassifier, MLPHead
from mgl.methods.mgl.training import (
    ExampleTable,
    meta_test_tasks,
    meta_train_tasks,
    small_graph_threads,
    validation_subset,
)
from mgl.methods.rounds import StageReport as MGLStageReport

DEFAULT_LRS = (1e-4, 3e-4, 1e-3, 3e-3)
DEFAULT_WEIGHT_DECAYS = (0.0, 1e-3)


@dataclass
class BaselineOptions:
    """The baselines' own settings (everything else comes from :class:`~mgl.config.MGLConfig`)."""

    lrs: tuple[float, ...] = DEFAULT_LRS
    """Learning rates of the classifier tried in every stage (chosen on validation data)."""
    weight_decays: tuple[float, ...] = DEFAULT_WEIGHT_DECAYS
    """Adam weight decays (L2) of the classifier tried in every stage."""
    batch_size: int | None = None
    """Minibatch size; None: ``MGLConfig.n_query``."""
    reptile_inner_steps: int = 5
    """Reptile: k, minibatch steps on one language per inner loop."""
    reptile_eps: float = 0.5
    """Reptile: the outer step size epsilon in ``theta += eps * (phi - theta)``."""
    batch_candidates: bool = True
    """On frozen features, train a stage's grid points together as one stacked model
    (:mod:`mgl.methods.baselines.batched`; the same result as one after the other, faster)."""

    def validate(self) -> BaselineOptions:
        if not self.lrs or any(not lr > 0 for lr in self.lrs):
            raise ConfigError(f"baseline learning rates must be > 0, got {list(self.lrs)}")
        if not self.weight_decays or any(wd < 0 for wd in self.weight_decays):
            raise ConfigError(f"baseline weight decays must be >= 0, got {list(self.weight_decays)}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"baseline batch size must be >= 1, got {self.batch_size}")
        if self.reptile_inner_steps < 1:
            raise ConfigError(f"reptile inner steps must be >= 1, got {self.reptile_inner_steps}")
        if not 0 < self.reptile_eps <= 1:
            raise ConfigError(f"reptile epsilon must be in (0, 1], got {self.reptile_eps}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


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
    """The training schedule of a baseline stage (from MGLConfig and BaselineOptions)."""

    steps_per_round: int
    max_rounds: int
    patience: int
    batch_size: int
    grad_clip: float
    encoder_lr: float
    encoder_weight_decay: float

    @classmethod
    def from_configs(cls, cfg: MGLConfig, options: BaselineOptions) -> Settings:
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


def tuning_grid(options: BaselineOptions) -> list[Hyper]:
    return [Hyper(lr, wd) for lr in options.lrs for wd in options.weight_decays]


@dataclass
class ValidationSet:
    """Validation rows scored by one head (the rows MGL validates on in the same stage)."""

    name: str
    rows: np.ndarray
    head: str = SHARED_HEAD


def mgl_validation_rows(
    table: ExampleTable, sources: Sequence[str], target: str, cfg: MGLConfig, seed: int
) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """The validation rows MGL uses with this seed: ``([(source, rows), ...], target rows)``; zero-shot
    (no target training row), the target rows are the sources' (:func:`zero_shot_rows`).

    Drawn exactly as :func:`mgl.methods.mgl.training.fit_mgl` draws them (same random stream, same
    order: the meta-train tasks, then the meta-test task), by calling the same functions.
    """
    rng = np.random.default_rng([seed, 99])
    if len(sources) >= 2:
        _, tasks = meta_train_tasks(table, sources, cfg, rng)
        source_rows = [(task.sampler.pair.target, task.query) for task in tasks]
        _, val_task, _ = meta_test_tasks(table, sources, target, cfg, rng)
        if val_task is None:  # zero-shot
            return source_rows, zero_shot_rows(source_rows)
        return source_rows, val_task.query
    source_rows = [
        (lang, validation_subset(table.rows(languages=lang, split="validation"), cfg, rng)) for lang in sources
    ]
    if len(table.rows(languages=target, split="train")) == 0:
        return source_rows, zero_shot_rows(source_rows)
    return source_rows, validation_subset(table.rows(languages=target, split="validation"), cfg, rng)


def zero_shot_rows(source_rows: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """Zero-shot, the rows that stand for the target's validation rows: the sources' validation
    rows together (the model never sees a target label)."""
    return np.sort(np.concatenate([rows for _, rows in source_rows]))


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
class StageReport(MGLStageReport):
    """What one stage did (as MGL's stage report), plus the winning grid point and every point's score."""

    lr: float = float("nan")
    weight_decay: float = float("nan")
    candidates: list[dict] = field(default_factory=list)


#: One intra-op thread for small models on frozen CPU features: the same policy as MGL's training.
small_model_threads = small_graph_threads


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
    from mgl.methods.metrics import mean_nll

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
    stages: list[StageReport]
    n_train: int
