"""Tuning a baseline stage: every grid point trained from the same start, the best on validation kept.

:func:`fit_stage` trains the stage once per point of the grid (learning rate x weight decay,
:mod:`mgl.methods.baselines.common`) with :func:`mgl.methods.rounds.train_in_rounds`: on frozen features
all points together as one :class:`~mgl.methods.baselines.batched.BatchedTrainee` (the same result
as one after the other, bit for bit), otherwise one :class:`SingleTrainee` per point. The
point whose best round scores highest on the stage's validation data wins (ties: lower NLL,
then the earlier point). :class:`BaselineContext` is what every baseline's ``fit`` gets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from mgl.config import BaselineConfig, MGLConfig
from mgl.data.example_table import ExampleTable
from mgl.errors import ConfigError
from mgl.methods.baselines.batched import BatchedTrainee, stackable
from mgl.methods.baselines.common import (
    SHARED_HEAD,
    Hyper,
    MLPClassifier,
    Settings,
    StepContext,
    StepFn,
    TunedStageReport,
    ValidationSet,
    build_classifier,
    restore,
    snapshot,
    tuning_grid,
    validate,
)
from mgl.methods.rounds import Schedule, StageReport, make_adam, pick_best, train_in_rounds
from mgl.methods.selection import better, require_rows
from mgl.methods.validation_rows import validation_rows


class SingleTrainee:
    """One grid point of a baseline stage as the single candidate of :func:`mgl.methods.rounds.train_in_rounds`."""

    size = 1

    def __init__(
        self,
        model: MLPClassifier,
        features,
        step: StepFn,
        validation: Sequence[ValidationSet],
        labels: np.ndarray,
        settings: Settings,
        hyper: Hyper,
        *,
        rng: np.random.Generator,
        betas: tuple[float, float] = (0.9, 0.999),
    ):
        groups: list[dict[str, Any]] = [
            {"params": list(model.parameters()), "lr": hyper.lr, "weight_decay": hyper.weight_decay}
        ]
        enc_params = features.parameters()
        if enc_params:
            groups.append(
                {
                    "params": enc_params,
                    "lr": features.lr or settings.encoder_lr,
                    "weight_decay": settings.encoder_weight_decay,
                }
            )
        optimizer = make_adam(groups, betas=betas)
        self.ctx = StepContext(
            model,
            features,
            optimizer,
            [p for g in groups for p in g["params"]],
            rng,
            labels,
            settings,
            hyper,
            next(model.parameters()).device,
        )
        self.model, self.features, self.step, self.validation, self.labels = model, features, step, validation, labels
        self.best: dict | None = None

    def train_round(self, active: np.ndarray, steps: int, tick) -> np.ndarray:
        self.model.train()
        self.features.train()
        losses = []
        for _ in range(steps):
            losses.append(self.step(self.ctx))
            tick(1)
        return np.array([np.mean(np.asarray(losses))])

    def validate(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc, nll = validate(self.model, self.features, self.validation, self.labels)
        return np.array([acc]), np.array([nll])

    def keep(self, which: np.ndarray) -> None:
        self.best = snapshot(self.model, self.features)

    def restore(self) -> None:
        if self.best is not None:
            restore(self.model, self.features, self.best)


def stage_seeds(name: str, seed: int) -> tuple[np.random.Generator, int]:
    """A stage's minibatch stream and its torch seed (dropout): the same for every grid point."""
    stage_id = sum(name.encode())
    return np.random.default_rng([seed, stage_id]), seed * 1000 + stage_id


def cast_reports(reports: list[StageReport]) -> list[TunedStageReport]:
    """:func:`mgl.methods.rounds.train_in_rounds` hands back the reports it was given (this module's
    :class:`TunedStageReport`, with the grid point's settings)."""
    return cast(list[TunedStageReport], reports)


def train_rounds(
    name: str,
    model: MLPClassifier,
    features,
    step: StepFn,
    validation: Sequence[ValidationSet],
    labels: np.ndarray,
    settings: Settings,
    hyper: Hyper,
    *,
    seed: int,
    progress: bool = False,
    betas: tuple[float, float] = (0.9, 0.999),
) -> TunedStageReport:
    """Train one stage at one grid point; on return the model holds its best checkpoint."""
    rng, torch_seed = stage_seeds(name, seed)
    trainee = SingleTrainee(model, features, step, validation, labels, settings, hyper, rng=rng, betas=betas)
    torch.manual_seed(torch_seed)
    [report] = cast_reports(
        train_in_rounds(
            name,
            trainee,
            _schedule(settings),
            [(vs.name, len(vs.rows)) for vs in validation],
            reports=[TunedStageReport(name, lr=hyper.lr, weight_decay=hyper.weight_decay)],
            progress=progress,
            desc=f"{name} lr={hyper.lr:g} wd={hyper.weight_decay:g}",
        )
    )
    return report


def _schedule(settings: Settings) -> Schedule:
    return Schedule(settings.steps_per_round, settings.max_rounds, settings.patience)


def _candidate_record(hyper: Hyper, report: TunedStageReport) -> dict:
    return {
        "lr": hyper.lr,
        "weight_decay": hyper.weight_decay,
        "best_accuracy": report.best_accuracy,
        "best_nll": report.best_nll,
        "best_round": report.best_round,
        "rounds": report.rounds,
    }


def fit_stage(
    name: str,
    model: MLPClassifier,
    features,
    make_step: Callable[[Settings], StepFn],
    validation: Sequence[ValidationSet],
    labels: np.ndarray,
    settings: Settings,
    grid: Sequence[Hyper],
    *,
    seed: int,
    progress: bool = False,
    betas: tuple[float, float] = (0.9, 0.999),
    batched: bool = True,
) -> TunedStageReport:
    """Train the stage once per grid point from the same start; keep the point best on validation.

    On return ``model`` (and a trainable encoder) hold the winner's best checkpoint. The
    report is the winner's, with every point's validation score in ``candidates``. On
    frozen features (and ``batched``) the points train together as one stacked model
    (:mod:`mgl.methods.baselines.batched`), with the same result as one after the other.
    """
    if not grid:
        raise ConfigError("the baseline tuning grid is empty")
    require_rows(name, [(vs.name, len(vs.rows)) for vs in validation])
    t0 = time.perf_counter()
    if batched and len(grid) > 1 and stackable(features, model):
        rng, torch_seed = stage_seeds(name, seed)
        trainee = BatchedTrainee(model, features, make_step, validation, labels, settings, grid, rng=rng, betas=betas)
        torch.manual_seed(torch_seed)
        reports = cast_reports(
            train_in_rounds(
                name,
                trainee,
                _schedule(settings),
                [(vs.name, len(vs.rows)) for vs in validation],
                reports=[TunedStageReport(name, lr=h.lr, weight_decay=h.weight_decay) for h in grid],
                progress=progress,
                desc=f"{name} x{len(grid)} candidates",
            )
        )
        w = pick_best(reports)
        model.load_state_dict(trainee.candidate(w).state_dict())
        report = reports[w]
        report.candidates = [_candidate_record(h, r) for h, r in zip(grid, reports)]
        report.seconds = time.perf_counter() - t0
        return report
    start = snapshot(model, features) if len(grid) > 1 else None
    winner: tuple[TunedStageReport, dict | None] | None = None
    candidates = []
    for i, hyper in enumerate(grid):
        if i > 0:
            assert start is not None  # taken above whenever the grid has more than one point
            restore(model, features, start)
        report = train_rounds(
            name,
            model,
            features,
            make_step(settings),
            validation,
            labels,
            settings,
            hyper,
            seed=seed,
            progress=progress,
            betas=betas,
        )
        candidates.append(_candidate_record(hyper, report))
        if winner is None or better(report.best_accuracy, report.best_nll, winner[0].best_accuracy, winner[0].best_nll):
            winner = (report, snapshot(model, features) if len(grid) > 1 else None)
    assert winner is not None
    report, state = winner
    if state is not None:
        restore(model, features, state)
    report.candidates = candidates
    report.seconds = time.perf_counter() - t0
    return report


@dataclass
class BaselineContext:
    """Everything a baseline's ``train`` needs, prepared once by :func:`make_context`."""

    table: ExampleTable
    sources: list[str]
    target: str
    features: Any
    cfg: MGLConfig
    options: BaselineConfig
    settings: Settings
    grid: list[Hyper]
    source_validation: list[ValidationSet]
    target_validation: list[ValidationSet]
    seed: int
    device: torch.device
    progress: bool

    def classifier(self, heads: Sequence[str] = (SHARED_HEAD,)) -> MLPClassifier:
        return build_classifier(self.cfg, self.features.dim, self.table.num_classes, seed=self.seed, heads=heads).to(
            self.device
        )

    def train_rows(self, languages: Sequence[str] | str) -> np.ndarray:
        return self.table.rows(languages=languages, split="train")

    def stage(
        self,
        name: str,
        model: MLPClassifier,
        make_step: Callable[[Settings], StepFn],
        validation: Sequence[ValidationSet],
        *,
        settings: Settings | None = None,
        **kwargs,
    ) -> TunedStageReport:
        return fit_stage(
            name,
            model,
            self.features,
            make_step,
            validation,
            self.table.labels,
            settings or self.settings,
            self.grid,
            seed=self.seed,
            progress=self.progress,
            batched=self.options.batch_candidates,
            **kwargs,
        )


def make_context(
    data,
    features,
    cfg: MGLConfig,
    options: BaselineConfig | None = None,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> BaselineContext:
    """Settings, tuning grid and the validation rows every method chooses on, for one experiment and seed."""
    options = (options or BaselineConfig()).validate()
    table = data.table
    rows = validation_rows(table, data.sources, data.target, cfg, seed)
    return BaselineContext(
        table=table,
        sources=list(data.sources),
        target=data.target,
        features=features,
        cfg=cfg,
        options=options,
        settings=Settings.from_configs(cfg, options),
        grid=tuning_grid(options),
        source_validation=[ValidationSet(f"{lang} validation", r) for lang, r in rows.sources],
        target_validation=[ValidationSet(f"{data.target} validation", rows.target)],
        seed=seed,
        device=torch.device(device),
        progress=progress,
    )
