"""Experiment grids: plan, store of finished cells, runners and executors, statistics and tables.

A *cell* is one (method, experiment, seed); an *experiment* is a target language, a domain
and its source languages. The package follows a grid's life:

* :mod:`mgl.grid.plan`: the experiments (Table 1's, Table 2's), the cells, the fingerprint of
  the configuration;
* :mod:`mgl.grid.job`: :class:`~mgl.grid.job.GridPlan`, which ties them to an output folder;
* :mod:`mgl.grid.store`: every finished cell as its own JSON file under ``OUT/cells/``, written
  atomically; a re-run skips finished cells, so a kill loses at most the running ones;
* :mod:`mgl.grid.runner`: computing the cells of one (experiment, seed) on shared data and
  features (:class:`~mgl.grid.runner.CellRunner`);
* :mod:`mgl.grid.executors`: where those groups run: this process, ``--workers N`` local
  processes (``local``), or Ray tasks (``ray``); every executor writes the same cells;
* :mod:`mgl.grid.derived_ensembles`: an ensemble row from finished cells' stored probabilities;
* :mod:`mgl.grid.stats`: means over seeds, paired t-tests against MGL;
* :mod:`mgl.grid.specs` and :mod:`mgl.grid.tables`: table layouts and their one renderer.

Methods and their names are :mod:`mgl.methods`' registry. Everything a caller needs is
re-exported here.
"""

from __future__ import annotations

from mgl.grid.executors import (
    EXECUTORS,
    GridReport,
    GroupRunner,
    LocalExecutor,
    RayExecutor,
    SerialExecutor,
    make_executor,
    run_cells,
)
from mgl.grid.job import GridPlan
from mgl.grid.plan import (
    GRID_VERSION,
    LANGUAGES,
    PROPORTION_FRACTIONS,
    TABLE1_DOMAINS,
    TABLE1_TARGETS,
    TABLE2_LANGUAGES,
    TABLE2_TARGETS,
    Cell,
    Experiment,
    config_fingerprint,
    make_cells,
    table1_experiments,
    table2_experiments,
)
from mgl.grid.runner import CellRunner, torch_threads
from mgl.grid.specs import Column, TableSpec, ablation_spec, grid_spec, table1_spec, table2_spec
from mgl.grid.stats import ablation_tests, paired_test, seed_scores, summarize, summarize_proportion
from mgl.grid.store import CellStore
from mgl.grid.tables import (
    CSV_FIELDS,
    ablation_notes,
    compact,
    fraction_dir,
    render_csv,
    render_markdown,
    render_proportion_csv,
    render_proportion_markdown,
    sort_records,
    write_proportion_tables,
    write_tables,
)
from mgl.methods import REFERENCE_METHODS, check_methods, display_name, is_mgl, mgl_variant_config

__all__ = [
    "CSV_FIELDS",
    "EXECUTORS",
    "GRID_VERSION",
    "LANGUAGES",
    "PROPORTION_FRACTIONS",
    "REFERENCE_METHODS",
    "TABLE1_DOMAINS",
    "TABLE1_TARGETS",
    "TABLE2_LANGUAGES",
    "TABLE2_TARGETS",
    "Cell",
    "CellRunner",
    "CellStore",
    "Column",
    "Experiment",
    "GridPlan",
    "GridReport",
    "GroupRunner",
    "LocalExecutor",
    "RayExecutor",
    "SerialExecutor",
    "TableSpec",
    "ablation_notes",
    "ablation_spec",
    "ablation_tests",
    "check_methods",
    "compact",
    "config_fingerprint",
    "display_name",
    "fraction_dir",
    "grid_spec",
    "is_mgl",
    "make_cells",
    "make_executor",
    "mgl_variant_config",
    "paired_test",
    "render_csv",
    "render_markdown",
    "render_proportion_csv",
    "render_proportion_markdown",
    "run_cells",
    "seed_scores",
    "sort_records",
    "summarize",
    "summarize_proportion",
    "table1_experiments",
    "table1_spec",
    "table2_experiments",
    "table2_spec",
    "torch_threads",
    "write_proportion_tables",
    "write_tables",
]
