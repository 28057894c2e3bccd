"""What the benchmark scripts share: where the data is, and their common command-line options.

Benchmarks (not the library) read ``MGL_DATA``; each script is run as
``python benchmarks/<script>.py`` so this folder is on ``sys.path``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DATA_HINT = (
    "point it at the folder holding cls-acl10-unprocessed/ (and paws-x/), e.g. "
    "export MGL_DATA=../shared/data, or get the corpus with 'mgl data download webis-cls-10'"
)


def require_mgl_data(script: str) -> Path | None:
    """``$MGL_DATA`` as a path, or None after telling the user (the script then exits with 2)."""
    root = os.environ.get("MGL_DATA")
    if not root:
        print(f"{script}: MGL_DATA is unset: {DATA_HINT}", file=sys.stderr)
        return None
    return Path(root)


def add_common_options(parser: argparse.ArgumentParser, out: str, *, quiet: bool = True) -> argparse.ArgumentParser:
    """``--set section.field=value`` (repeatable), ``--out FILE.json`` and, optionally, ``--quiet``."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="section.field=value")
    parser.add_argument("--out", default=out, help=f"JSON result (default {out}).")
    if quiet:
        parser.add_argument("--quiet", action="store_true", help="No progress bars.")
    return parser


BENCHMARK_KIND = "benchmark"
"""The kind a benchmark's result is recorded under (:func:`mgl.outputs.record_written`)."""


def claim_out(path) -> Path:
    """The result file ``--out`` may be written (checked before the work, by mgl's one output guard:
    a file mgl did not write, or one inside a model folder, is refused; an earlier benchmark result
    is replaced). Exits with status 2 and one line otherwise."""
    from mgl.errors import MGLError
    from mgl.outputs import check_output_file

    try:
        return check_output_file(
            path, kind=BENCHMARK_KIND, overwrite=bool(os.environ.get("MGL_OVERWRITE")), option="--out"
        )
    except MGLError as exc:
        print(f"error: {exc} (set MGL_OVERWRITE=1 to replace it)", file=sys.stderr)
        raise SystemExit(2) from None


def write_out(path, result) -> Path:
    """Write a benchmark's JSON result atomically through the guard, and record it as mgl's."""
    import json

    from mgl.io import write_text_atomic
    from mgl.outputs import record_written

    path = claim_out(path)
    write_text_atomic(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    record_written(path, BENCHMARK_KIND)
    return path


def fit_and_measure(name: str, data, features, cfg, *, seed: int, device="cpu", progress=False):
    """A method fitted and scored by the product's one path (:func:`mgl.methods.fit_and_score`):
    ``(metrics, fitted method)``, the metrics being its training report (stages, train_seconds ...)
    with its test metrics and validation accuracy over them."""
    from mgl.methods import fit_and_score, split_metrics

    scored = fit_and_score(name, data, features, cfg, seed=seed, device=device, progress=progress)
    return {**scored.method.report_, **split_metrics(data, scored.own)}, scored.method


def mgl_test_sampler(data, mgl_cfg):
    """The sampler MGL's test stage draws support sets with (sources -> target), as training builds it."""
    from mgl.methods.mgl.training import meta_test_tasks
    from mgl.methods.validation_rows import validation_rows

    rows = validation_rows(data.table, data.sources, data.target, mgl_cfg, 0)
    return meta_test_tasks(data.table, data.sources, data.target, mgl_cfg, rows)[2]
