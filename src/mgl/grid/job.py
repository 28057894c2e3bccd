"""A grid run: the plan checked against its output folder, its cells computed by an executor, its tables written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from mgl.grid.executors import GridReport, run_cells
from mgl.grid.plan import Experiment, config_fingerprint, make_cells
from mgl.grid.runner import CellRunner
from mgl.grid.specs import TableSpec
from mgl.grid.store import CellStore
from mgl.grid.tables import write_tables
from mgl.io import write_json_atomic
from mgl.outputs import check_job_folder


class GridPlan:
    """One grid's cells, store and description (``grid.json``), checked against its output folder.

    Nothing is written until :meth:`run`; building the plan refuses at once an output folder
    holding cells of another configuration.
    """

    def __init__(
        self,
        table: str,
        cfg,
        method_list: Sequence[str],
        experiments: Sequence[Experiment],
        n_seeds: int,
        *,
        out: Path,
        quick: bool = False,
        extra_meta: dict | None = None,
        baselines: bool = True,
    ):
        self.cfg, self.method_list, self.experiments, self.out = (
            cfg,
            list(method_list),
            list(experiments),
            Path(out),
        )
        self.seed_list = list(range(n_seeds))
        # the baselines' settings are hashed beside the configuration (not for a grid of MGL variants alone)
        extra = {"baselines": cfg.baselines.to_dict()} if baselines else {}
        if "ensemble" in self.method_list:
            extra["members"] = list(cfg.members)
        fingerprint = config_fingerprint(cfg, extra or None)
        self.cells = make_cells(self.method_list, self.experiments, self.seed_list)
        self.store = CellStore(self.out, fingerprint)
        self.meta = {
            "table": table,
            **(extra_meta or {}),
            "methods": self.method_list,
            "seeds": self.seed_list,
            "experiments": [{"target": e.target, "domain": e.domain, "sources": list(e.sources)} for e in experiments],
            "fingerprint": fingerprint,
            "quick": quick,
            "config": cfg.to_dict(),
        }
        if baselines:
            self.meta["baseline_options"] = cfg.baselines.to_dict()

        tables = {table, table.split("-")[0]}
        check_job_folder(
            self.out,
            manifest="grid.json",
            what="grid's output folder",
            is_manifest=lambda m: isinstance(m, dict) and "table" in m and "fingerprint" in m,
            names=["grid.json", "cells", *(f"{t}.{ext}" for t in tables for ext in ("json", "csv", "md"))],
        )
        self.store.records(self.cells)  # refuses, before anything is written, cells of another configuration in OUT

    def run(
        self,
        spec_of: Callable[[Sequence[str], Sequence[Experiment]], TableSpec],
        *,
        threads: int | None,
        quiet: bool,
        annotate=None,
        executor=None,
    ) -> tuple[GridReport, list[dict], dict]:
        """Compute the missing cells (``executor``: default this process), write the tables.

        Returns (run report, records, table paths). ``annotate(records, spec)``, if given, may
        add notes to the spec and returns extra entries for the table's JSON meta.
        """
        write_json_atomic(self.out / "grid.json", self.meta)
        runner = CellRunner(self.cfg, progress=not quiet, train_threads=threads)
        report = run_cells(self.cells, self.store, runner, progress=not quiet, executor=executor)
        records = self.store.records(self.cells)
        spec = spec_of(self.method_list, self.experiments)
        meta = {**self.meta, **annotate(records, spec)} if annotate is not None else self.meta
        paths = write_tables(self.out, records, spec, meta=meta, n_seeds=len(self.seed_list))
        return report, records, paths
