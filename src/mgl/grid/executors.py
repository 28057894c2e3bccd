"""Executors: where a grid's unfinished (experiment, seed) groups run. Every executor writes the same cells.

The unit of work is a *group*: the cells of one (experiment, seed), which share their data and
features (:class:`~mgl.grid.runner.CellRunner`). An executor gets the grid's cells, skips
those the :class:`~mgl.grid.store.CellStore` already holds, and computes the rest:

* :class:`SerialExecutor`: in this process, one group after the other, each cell saved as it
  finishes (the behaviour of every grid before executors existed);
* :class:`LocalExecutor` (``--executor local --workers N``): first every group's embeddings are
  computed into the cache in this process, with all of torch's threads (the encoder is the
  part that uses several cores well); then ``N`` worker processes of the one local pool
  (:class:`mgl.bulk.executors.LocalPool`, bulk prediction's too) train the groups, each
  worker saving its cells to the shared store (one file per cell, renamed into place);
* :class:`RayExecutor` (``--executor ray [--address ADDR]``): the embedding phase on the
  cluster (a frozen encoder's texts, every group's at once, embedded by a Ray Data actor pool,
  :mod:`mgl.bulk`; this process writes the cache), then every group a Ray task asking for
  ``cpus_per_task`` CPUs (and a GPU where the run uses one).
  Tasks return their records and the driver writes them, so the store stays the single record
  whatever happens to the cluster's workers: a worker killed mid-group makes Ray run the task
  again (``max_retries``), and nothing of the lost attempt was written, so no cell is lost or
  written twice. A driver killed mid-grid resumes like every grid: finished cells are skipped.

Ray is an optional dependency (``pip install 'mgl-clt[ray]'``); the trial runner
(:class:`~mgl.grid.runner.CellRunner`) knows nothing of it, as Ray Tune keeps its trial
runner apart from the executors that place trials.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mgl.bulk.executors import LocalPool, RayPool, join_ray, require_ray
from mgl.errors import ConfigError
from mgl.grid.plan import Cell, Experiment
from mgl.grid.store import CellStore
from mgl.methods.registry import needs_features

EXECUTORS = ("local", "ray")


class GroupRunner(Protocol):
    """Computes the cells of one (experiment, seed); yields ``(method, record)`` as each finishes."""

    def run_group(self, experiment: Experiment, seed: int, methods: Sequence[str]) -> Iterator[tuple[str, dict]]: ...


@dataclass
class GridReport:
    computed: list[Cell] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)


def pending_groups(
    cells: Sequence[Cell], store: CellStore
) -> tuple[dict[tuple[Experiment, int], list[Cell]], list[Cell]]:
    """The unfinished cells grouped by (experiment, seed), in plan order; and the finished ones."""
    groups: dict[tuple[Experiment, int], list[Cell]] = defaultdict(list)
    skipped = []
    for cell in cells:
        if store.done(cell):
            skipped.append(cell)
        else:
            groups[(cell.experiment, cell.seed)].append(cell)
    return dict(groups), skipped


def _bar(total: int, initial: int, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="cells", unit="cell", disable=not progress, dynamic_ncols=True)


def featured_groups(groups: dict[tuple[Experiment, int], list[Cell]]) -> list[tuple[Experiment, int]]:
    """The groups with a method that reads the encoder's features (the others have nothing to embed)."""

    return [key for key, todo in groups.items() if any(needs_features(c.method) for c in todo)]


def _prepare_all(runner, groups, progress: bool) -> None:
    """The embedding phase: every group's texts into the cache, here, before training is spread out."""
    if not hasattr(runner, "prepare"):
        return
    from tqdm.auto import tqdm

    for experiment, seed in tqdm(
        featured_groups(groups), desc="embedding", unit="group", disable=not progress, leave=False, dynamic_ncols=True
    ):
        runner.prepare(experiment, seed)
    runner.close_cache()  # workers open their own connections


class SerialExecutor:
    """Every group in this process, one after the other; each cell saved as it finishes."""

    def run(self, cells: Sequence[Cell], store: CellStore, runner: GroupRunner, *, progress: bool = True) -> GridReport:
        groups, skipped = pending_groups(cells, store)
        report = GridReport(skipped=skipped)
        bar = _bar(len(cells), len(skipped), progress)
        try:
            for (experiment, seed), todo in groups.items():
                by_method = {c.method: c for c in todo}
                bar.set_postfix_str(f"{experiment.label} seed {seed}")
                for method, record in runner.run_group(experiment, seed, list(by_method)):
                    cell = by_method[method]
                    store.save(cell, record)
                    report.computed.append(cell)
                    bar.update(1)
        finally:
            bar.close()
        return report


class _GroupWorker:
    """A worker process of :class:`LocalExecutor` (built once per process by the one local pool,
    :class:`mgl.bulk.executors.LocalPool`): computes one group, saves each cell to the shared
    store (one file per cell, renamed into place), and returns the cells saved."""

    def __init__(self, runner, store: CellStore, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.runner, self.store = runner, store

    def __call__(self, item: dict) -> list[Cell]:
        by_method = {c.method: c for c in item["cells"]}
        saved = []
        for method, record in self.runner.run_group(item["experiment"], item["seed"], list(by_method)):
            self.store.save(by_method[method], record)
            saved.append(by_method[method])
        return saved


class LocalExecutor:
    """``workers`` processes on this machine sharing the cell store, after one embedding phase here.
    The processes are the one local pool of mgl (:class:`mgl.bulk.executors.LocalPool`, which bulk
    prediction uses too): spawned, each with the runner's ``train_threads`` torch threads; a worker
    that raises stops the grid with its error, one that dies stops it with
    :class:`~mgl.errors.WorkerLost`, and the cells saved before are kept."""

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self.workers = workers

    def run(self, cells: Sequence[Cell], store: CellStore, runner: GroupRunner, *, progress: bool = True) -> GridReport:
        if self.workers == 1:
            return SerialExecutor().run(cells, store, runner, progress=progress)
        groups, skipped = pending_groups(cells, store)
        report = GridReport(skipped=skipped)
        if not groups:
            return report
        _prepare_all(runner, groups, progress)
        pool = LocalPool(min(self.workers, len(groups)), threads=getattr(runner, "train_threads", None))
        items = ({"experiment": e, "seed": s, "cells": todo} for (e, s), todo in groups.items())
        bar = _bar(len(cells), len(skipped), progress)
        try:
            for saved in pool.map(_GroupWorker, {"runner": _without_progress(runner), "store": store}, items):
                report.computed.extend(saved)
                bar.update(len(saved))
        finally:
            bar.close()
        return report


def _without_progress(runner):
    """The runner as sent to workers: without inner progress bars (several processes would draw over each other)."""
    import copy

    clone = copy.copy(runner)
    if hasattr(clone, "progress"):
        clone.progress = False
    return clone


def _ray_group(runner, experiment: Experiment, seed: int, methods: list[str]) -> list[tuple[str, dict]]:
    """One group as a Ray task: every cell's record, returned to the driver (which writes them)."""
    import torch

    if getattr(runner, "train_threads", None) is not None:
        torch.set_num_threads(runner.train_threads)
    return list(runner.run_group(experiment, seed, methods))


class RayExecutor:
    """Each group a Ray task (``cpus_per_task`` CPUs, ``gpus_per_task`` GPUs); the driver writes every cell."""

    def __init__(
        self,
        address: str | None = None,
        *,
        cpus_per_task: float = 1,
        gpus_per_task: float = 0,
        max_retries: int = 3,
        init_kwargs: dict | None = None,
    ):
        self.address = address
        self.cpus_per_task = cpus_per_task
        self.gpus_per_task = gpus_per_task
        self.max_retries = max_retries
        self.init_kwargs = init_kwargs or {}

    def run(self, cells: Sequence[Cell], store: CellStore, runner: GroupRunner, *, progress: bool = True) -> GridReport:
        ray = require_ray()
        groups, skipped = pending_groups(cells, store)
        report = GridReport(skipped=skipped)
        if not groups:
            return report
        started_here = join_ray(self.address, self.init_kwargs)
        try:
            if hasattr(runner, "embed_on"):  # a frozen encoder's texts embedded by Ray workers
                runner.embed_on(
                    RayPool(self.address, device="cpu" if not self.gpus_per_task else None),
                    featured_groups(groups),
                    progress=progress,
                )
            _prepare_all(runner, groups, progress)
        except BaseException:
            if started_here:
                ray.shutdown()
            raise
        task = ray.remote(num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task, max_retries=self.max_retries)(
            _ray_group
        )
        quiet_runner = ray.put(_without_progress(runner))
        bar = _bar(len(cells), len(skipped), progress)
        try:
            refs = {
                task.remote(quiet_runner, experiment, seed, [c.method for c in todo]): todo
                for (experiment, seed), todo in groups.items()
            }
            while refs:
                [ref], _ = ray.wait(list(refs), num_returns=1)
                todo = refs.pop(ref)
                by_method = {c.method: c for c in todo}
                for method, record in ray.get(ref):
                    store.save(by_method[method], record)
                    report.computed.append(by_method[method])
                    bar.update(1)
        finally:
            bar.close()
            if started_here:
                ray.shutdown()
        return report


def make_executor(name: str = "local", *, workers: int = 1, address: str | None = None, gpus_per_task: float = 0):
    """The executor named on the command line (``--executor``, ``--workers``, ``--address``)."""
    if name == "local":
        if address is not None:
            raise ConfigError("--address is for --executor ray")
        return LocalExecutor(workers)
    if name == "ray":
        if workers != 1:
            raise ConfigError("--workers is for --executor local; Ray runs as many groups at once as its CPUs allow")
        return RayExecutor(address, gpus_per_task=gpus_per_task)
    raise ConfigError(f"unknown executor {name!r}: use one of {', '.join(EXECUTORS)}")


def run_cells(
    cells: Sequence[Cell], store: CellStore, runner: GroupRunner, *, progress: bool = True, executor=None
) -> GridReport:
    """Compute every unfinished cell (grouped by experiment and seed), saving each as it finishes.

    ``executor`` places the groups (default: this process, one group after the other).
    """
    return (executor or SerialExecutor()).run(cells, store, runner, progress=progress)


__all__ = [
    "EXECUTORS",
    "GridReport",
    "GroupRunner",
    "LocalExecutor",
    "RayExecutor",
    "SerialExecutor",
    "make_executor",
    "pending_groups",
    "run_cells",
]
