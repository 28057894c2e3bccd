"""Training in rounds: the one loop every trainer of mgl runs, with the one model-selection rule.

A *stage* (MGL's meta-train or meta-test, any baseline stage) trains in *rounds*: ``steps``
training steps, then a check on validation data. The loop keeps, per candidate, the best
round by validation accuracy, ties broken by the lower validation NLL
(:func:`mgl.methods.selection.better`); ``patience`` rounds without improvement stop a candidate,
``max_rounds`` rounds stop every candidate; at the end each candidate is put back to its
best round. A validation set without rows is refused before the first step and a
non-finite score after any check (:mod:`mgl.methods.selection`), so no model is ever kept on
nothing or on a NaN.

What is trained is a :class:`Trainee`: ``size`` candidates side by side. MGL's stages
and the baselines on a trainable encoder have one (:class:`~mgl.methods.mgl.training.MGLTrainee`,
:class:`~mgl.methods.baselines.tuning.SingleTrainee`); the baselines' hyper-parameter candidates
on frozen features are trained together as one batched model
(:class:`~mgl.methods.baselines.batched.BatchedTrainee`), each candidate stopping on its own
patience exactly as it would alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, cast

import numpy as np
import torch

from mgl.methods.selection import better, require_finite, require_rows


@dataclass
class Schedule:
    """How long a stage trains: steps per round, at most ``max_rounds``, ``patience`` rounds without gain."""

    steps_per_round: int
    max_rounds: int
    patience: int


@dataclass
class StageReport:
    """What one candidate of one stage did: rounds, its best round and score, every round's history."""

    name: str
    rounds: int = 0
    steps: int = 0
    best_round: int = 0
    best_accuracy: float = float("nan")
    best_nll: float = float("nan")
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Trainee(Protocol):
    """``size`` candidates trained side by side by :func:`train_in_rounds`."""

    size: int

    def train_round(self, active: np.ndarray, steps: int, tick: Callable[[int], None]) -> np.ndarray:
        """``steps`` training steps of the candidates ``active`` (indices); their mean training losses."""

    def validate(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Validation accuracy and mean NLL of the candidates ``active``."""

    def keep(self, which: np.ndarray) -> None:
        """Remember the current weights of the candidates ``which`` as their best."""

    def restore(self) -> None:
        """Put every candidate back to the weights last kept for it."""


class ResumableTrainee(Trainee, Protocol):
    """A :class:`Trainee` whose whole training state can be written and read back (checkpoints)."""

    def state(self) -> dict[str, Any]:
        """Everything needed to continue training exactly: weights, optimiser, random streams."""

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state`."""


def _resumable(trainee: Trainee) -> ResumableTrainee:
    if not (callable(getattr(trainee, "state", None)) and callable(getattr(trainee, "load_state", None))):
        raise TypeError(f"{type(trainee).__name__} cannot be checkpointed or resumed (it has no state/load_state)")
    return cast(ResumableTrainee, trainee)


def train_in_rounds(
    name: str,
    trainee: Trainee,
    schedule: Schedule,
    validation_sets: Sequence[tuple[str, int]],
    *,
    reports: Sequence[StageReport] | None = None,
    progress: bool = False,
    desc: str | None = None,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
    resume_state: dict[str, Any] | None = None,
) -> list[StageReport]:
    """Train ``trainee``'s candidates in rounds; on return each holds its best round. One report per candidate.

    ``validation_sets``: ``(languages, n_rows)`` of the stage's validation data (checked for
    rows before anything trains). ``checkpoint(state)``, if given, is called after every
    round with the loop's state plus ``trainee.state()``; passing that back as
    ``resume_state`` continues exactly where it was written (``trainee.load_state``).
    """
    from tqdm.auto import tqdm

    validation_sets = list(validation_sets)
    require_rows(name, validation_sets)
    languages = [lang for lang, _ in validation_sets]
    n = trainee.size
    reports = list(reports) if reports is not None else [StageReport(name) for _ in range(n)]
    since_best = np.zeros(n, dtype=np.int64)
    kept = np.zeros(n, dtype=bool)
    start_round = 0
    if resume_state is not None:
        _resumable(trainee).load_state(resume_state["trainee"])
        reports = [StageReport(**r) for r in resume_state["reports"]]
        since_best = np.asarray(resume_state["since_best"], dtype=np.int64)
        kept = np.asarray(resume_state["kept"], dtype=bool)
        start_round = max(r.rounds for r in reports)
    t0 = time.perf_counter() - max(r.seconds for r in reports)
    bar = tqdm(
        total=schedule.max_rounds * schedule.steps_per_round,
        initial=start_round * schedule.steps_per_round,
        desc=desc or name,
        disable=not progress,
        unit="step",
        leave=False,
        dynamic_ncols=True,
    )
    try:
        for rnd in range(start_round, schedule.max_rounds):
            active = np.flatnonzero(since_best < schedule.patience)
            if len(active) == 0:
                break
            losses = trainee.train_round(active, schedule.steps_per_round, bar.update)
            accs, nlls = trainee.validate(active)
            improved = []
            for c, loss, acc, nll in zip(active, losses, accs, nlls):
                acc, nll = float(acc), float(nll)
                require_finite(name, languages, accuracy=acc, nll=nll)
                report = reports[c]
                report.rounds = rnd + 1
                report.steps = report.rounds * schedule.steps_per_round
                report.history.append(
                    {"round": rnd + 1, "train_loss": float(loss), "val_accuracy": acc, "val_nll": nll}
                )
                if not kept[c] or better(acc, nll, report.best_accuracy, report.best_nll):
                    report.best_accuracy, report.best_nll, report.best_round = acc, nll, rnd + 1
                    improved.append(int(c))
                    kept[c] = True
                    since_best[c] = 0
                else:
                    since_best[c] += 1
            if improved:
                trainee.keep(np.asarray(improved, dtype=np.int64))
            best = max(r.best_accuracy for r in reports if r.rounds)
            bar.set_postfix(
                loss=f"{float(np.mean(losses)):.3f}",
                val_acc=f"{float(np.max(accs)):.4f}",
                best=f"{best:.4f}",
                **({"active": len(active)} if n > 1 else {}),
            )
            seconds = time.perf_counter() - t0
            for report in reports:
                report.seconds = seconds
            if checkpoint is not None:
                checkpoint(
                    {
                        "trainee": _resumable(trainee).state(),
                        "reports": [r.to_dict() for r in reports],
                        "since_best": since_best.tolist(),
                        "kept": kept.tolist(),
                    }
                )
    finally:
        bar.close()
    trainee.restore()
    seconds = time.perf_counter() - t0
    for report in reports:
        report.seconds = seconds
    return reports


FUSED_ADAM = True
"""Whether :func:`make_adam` uses the fused kernel where it can (benchmarks/bench_train.py turns it off to
time the committed Table 1's way, torch's foreach Adam)."""


def make_adam(groups: list[dict[str, Any]], **kwargs: Any) -> torch.optim.Adam:
    """torch's Adam over ``groups``, fused (one pass over each weight per step) where every weight allows it.

    The fused kernel computes Adam's update in one pass instead of foreach's ten, a quarter
    of a small model's step on a CPU; it needs floating-point weights on a CPU or CUDA device.
    """
    params = [p for g in groups for p in g["params"]]
    fused = (
        FUSED_ADAM and bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    )
    return torch.optim.Adam(groups, **kwargs, fused=True) if fused else torch.optim.Adam(groups, **kwargs, foreach=True)


def pick_best(reports: Sequence[StageReport]) -> int:
    """The index of the candidate whose best round scores highest (ties: lower NLL, then the earlier one)."""
    if not reports:
        raise ValueError("no candidate to pick from")
    winner = 0
    for i, report in enumerate(reports[1:], start=1):
        if better(report.best_accuracy, report.best_nll, reports[winner].best_accuracy, reports[winner].best_nll):
            winner = i
    return winner


@contextlib.contextmanager
def small_model_threads(features: Any, device: torch.device | str) -> Iterator[None]:
    """One intra-op thread while training on frozen features on a CPU.

    An MGL episode's graph is tens of nodes, a baseline's classifier one small MLP: their matrices
    are far too small to gain from several
    threads, and on a loaded machine OpenMP's spinning threads make each step many times slower.
    """
    if getattr(features, "trainable", False) or torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
