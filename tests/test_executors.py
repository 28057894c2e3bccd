"""Executors place a grid's groups (this process, local workers, a Ray cluster) and all write the same cells.

Unit tests use a stand-in runner (deterministic records, optionally slow) so that the
placement is tested apart from training; the Ray tests run a real local cluster on
127.0.0.1, started by the fixture, and one of them kills a Ray worker in the middle of a
group. The last test runs ``mgl experiment table1 --quick`` on real data with every executor
and compares the cells.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mgl.errors import ConfigError
from mgl.grid import CellStore, Experiment, LocalExecutor, RayExecutor, SerialExecutor, make_cells

pytestmark = [pytest.mark.process, pytest.mark.ray]

DATA = os.environ.get("MGL_DATA")
EXPERIMENTS = [Experiment("ja", "books", ("en", "fr", "de")), Experiment("fr", "dvd", ("en", "de", "ja"))]
METHODS = ["logreg-pooled", "mix", "mgl"]


class StandInRunner:
    """A runner whose records depend only on (method, experiment, seed); ``delay`` seconds per group."""

    def __init__(self, delay: float = 0.0, log: str | None = None):
        self.delay = delay
        self.log = log
        self.train_threads = 1

    def run_group(self, experiment, seed, methods):
        if self.log:
            with open(self.log, "a") as fh:
                fh.write(f"{os.getpid()} {experiment.target} {experiment.domain} {seed}\n")
        time.sleep(self.delay)
        for m in methods:
            yield (
                m,
                {
                    "method": m,
                    "target": experiment.target,
                    "domain": experiment.domain,
                    "sources": list(experiment.sources),
                    "seed": seed,
                    "accuracy": (len(m) * 7 + seed * 3 + len(experiment.target)) % 100 / 100,
                    "pid": os.getpid(),
                },
            )


class CountingStore(CellStore):
    def __init__(self, out):
        super().__init__(out)
        self.saves: list[str] = []

    def save(self, cell, record):
        self.saves.append(cell.filename)
        return super().save(cell, record)


def results(out: Path) -> dict[str, float]:
    return {p.name: json.loads(p.read_text())["accuracy"] for p in sorted((out / "cells").glob("*.json"))}


def test_every_executor_writes_every_cell_once_and_the_same(tmp_path):
    cells = make_cells(METHODS, EXPERIMENTS, [0, 1])
    expected = None
    # local: each group takes 1 s, so the first worker cannot finish all 4 groups before the second
    # one has started (with instant groups it sometimes did, and the two-process check below failed)
    for name, executor, delay in (("serial", SerialExecutor(), 0.0), ("local2", LocalExecutor(workers=2), 1.0)):
        store = CountingStore(tmp_path / name)
        report = executor.run(cells, store, StandInRunner(delay=delay), progress=False)
        assert len(report.computed) == len(cells) and not report.skipped
        got = results(tmp_path / name)
        assert len(got) == len(cells)
        expected = expected or got
        assert got == expected
    # the local workers really ran in other processes
    pids = {json.loads(p.read_text())["pid"] for p in (tmp_path / "local2" / "cells").glob("*.json")}
    assert os.getpid() not in pids and len(pids) == 2
    # a re-run finds everything done
    report = LocalExecutor(workers=2).run(cells, CellStore(tmp_path / "local2"), StandInRunner(), progress=False)
    assert not report.computed and len(report.skipped) == len(cells)


class DyingRunner(StandInRunner):
    """Kills its own worker process in the group of seed 1 (as the kernel's OOM killer would)."""

    def run_group(self, experiment, seed, methods):
        if seed == 1:
            os._exit(9)
        yield from super().run_group(experiment, seed, methods)


def test_a_local_grid_worker_that_dies_stops_the_grid_with_worker_lost_and_keeps_the_saved_cells(tmp_path):
    from mgl.errors import WorkerLost

    cells = make_cells(METHODS, EXPERIMENTS[:1], [0, 1])
    store = CellStore(tmp_path / "grid")
    with pytest.raises(WorkerLost):
        LocalExecutor(workers=2).run(cells, store, DyingRunner(delay=0.0), progress=False)
    saved = {p.name for p in (tmp_path / "grid" / "cells").glob("*.json")}
    assert saved <= {c.filename for c in cells if c.seed == 0}
    # the re-run computes what is missing and nothing twice
    report = LocalExecutor(workers=2).run(cells, CellStore(tmp_path / "grid"), StandInRunner(), progress=False)
    assert len(report.computed) + len(report.skipped) == len(cells) and len(report.skipped) == len(saved)


def test_executor_choice_errors():
    with pytest.raises(ConfigError, match="--workers must be >= 1"):
        LocalExecutor(workers=0)
    from mgl.grid import make_executor

    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor("slurm")
    with pytest.raises(ConfigError, match="--address is for --executor ray"):
        make_executor("local", address="127.0.0.1:6379")
    with pytest.raises(ConfigError, match="--workers is for --executor local"):
        make_executor("ray", workers=2)


def _connect(address: str) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)


def test_ray_writes_the_same_cells_as_local(tmp_path, ray_cluster):
    _connect(ray_cluster)
    cells = make_cells(METHODS, EXPERIMENTS, [0, 1])
    SerialExecutor().run(cells, CellStore(tmp_path / "serial"), StandInRunner(), progress=False)
    store = CountingStore(tmp_path / "ray")
    report = RayExecutor(ray_cluster).run(cells, store, StandInRunner(), progress=False)
    assert len(report.computed) == len(cells)
    assert sorted(store.saves) == sorted(c.filename for c in cells)  # the driver wrote each cell once
    assert results(tmp_path / "ray") == results(tmp_path / "serial")


def test_a_ray_worker_killed_mid_group_loses_no_cell_and_writes_none_twice(tmp_path, ray_cluster):
    _connect(ray_cluster)
    cells = make_cells(METHODS, EXPERIMENTS, [0, 1, 2])
    log = tmp_path / "started.log"
    log.touch()
    store = CountingStore(tmp_path / "ray")
    runner = StandInRunner(delay=3.0, log=str(log))
    outcome: dict = {}

    def drive():
        try:
            outcome["report"] = RayExecutor(ray_cluster).run(cells, store, runner, progress=False)
        except BaseException as exc:  # surfaced below
            outcome["error"] = exc

    thread = threading.Thread(target=drive)
    thread.start()
    deadline = time.time() + 120
    victim = None
    while victim is None and time.time() < deadline:
        lines = log.read_text().split()
        if lines:
            victim = int(lines[0])
        time.sleep(0.1)
    assert victim is not None, "no group started"
    os.kill(victim, signal.SIGKILL)  # a Ray worker dies in the middle of its group
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert sorted(store.saves) == sorted(c.filename for c in cells)  # every cell exactly once
    assert len(results(tmp_path / "ray")) == len(cells)
    starts = [tuple(line.split()[1:]) for line in log.read_text().splitlines()]
    assert len(starts) > len(set(starts))  # the killed group ran again


IGNORED = {"seconds", "train_seconds", "embed_seconds", "finished", "machine", "details"}


def _cells_without_timing(out: Path) -> dict[str, dict]:
    return {
        p.name: {k: v for k, v in json.loads(p.read_text()).items() if k not in IGNORED}
        for p in sorted((out / "cells").glob("*.json"))
    }


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.skipif(not DATA, reason="MGL_DATA is unset: export MGL_DATA=<folder holding cls-acl10-unprocessed/>")
def test_table1_quick_gives_identical_cells_on_every_executor(tmp_path, ray_cluster):
    root = str(Path(DATA) / "cls-acl10-unprocessed")
    shared_home = Path(os.environ.get("MGL_HOME") or Path.home() / ".cache" / "mgl")
    # one process against two is test_every_executor_writes_every_cell_once_and_the_same's job (stand-in
    # runner): here the real pipeline, two local workers against Ray, which also embeds on its actors
    runs = {"local-2-workers": ["--workers", "2"], "ray": ["--executor", "ray", "--address", ray_cluster]}
    outs = {}
    for name, extra in runs.items():
        # each run its own home: every run embeds afresh (Ray's on its actors), only the prepared encoder is shared
        env = {**os.environ, "MGL_HOME": str(tmp_path / f"home-{name}")}
        if (shared_home / "encoders").exists():
            shutil.copytree(shared_home / "encoders", tmp_path / f"home-{name}" / "encoders")
        out = tmp_path / name
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mgl",
                "experiment",
                "table1",
                "--quick",
                "--root",
                root,
                "--out",
                str(out),
                "--quiet",
                *extra,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "18 cell(s) computed, 0 already done" in proc.stdout
        outs[name] = _cells_without_timing(out)
    assert len(outs["local-2-workers"]) == 18
    assert outs["ray"] == outs["local-2-workers"]
