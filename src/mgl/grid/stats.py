"""Aggregation and significance over a grid's finished cells.

For each column, the best baseline is the non-MGL row (``logreg-*`` included) with the highest
mean; MGL gets a dagger when a **one-sided** paired t-test over seeds
(``scipy.stats.ttest_rel(mgl, best, alternative="greater")``; a column's per-seed value is the
mean over its experiments) gives p < 0.01.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mgl.grid.plan import Experiment
from mgl.grid.specs import Column, TableSpec


def seed_scores(records: Sequence[dict], method: str, column: Column, metric: str) -> dict[int, float]:
    """Per seed, the mean metric over the column's experiments (seeds lacking one of them are left out)."""
    values = {(r["target"], r["domain"], int(r["seed"])): float(r[metric]) for r in records if r["method"] == method}
    seeds = sorted({s for (_, _, s) in values})
    out = {}
    for seed in seeds:
        vals = [values.get((t, d, seed)) for t, d in column.experiments]
        present = [v for v in vals if v is not None]
        if len(present) == len(vals):
            out[seed] = float(np.mean(present))
    return out


def paired_test(reference: dict[int, float], other: dict[int, float]) -> dict[str, Any]:
    """One-sided paired t-test over the common seeds: is the reference greater?"""
    from scipy.stats import ttest_rel

    seeds = sorted(set(reference) & set(other))
    result: dict[str, Any] = {"n": len(seeds), "t": None, "p": None}
    if len(seeds) < 2:
        return result
    a = np.array([reference[s] for s in seeds])
    b = np.array([other[s] for s in seeds])
    if np.allclose(a - b, (a - b)[0]) and (a - b)[0] == 0:
        return result  # identical: no test
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = ttest_rel(a, b, alternative="greater")
    t, p = float(res.statistic), float(res.pvalue)
    # a constant non-zero difference gives t = +-inf (p = 0 or 1): kept as p, t left out (not JSON)
    result.update(t=t if math.isfinite(t) else None, p=None if math.isnan(p) else p)
    return result


def summarize(records: Sequence[dict], spec: TableSpec) -> dict[str, Any]:
    """Per method and column: mean, std (ddof 1) and seeds; per column: the test against the best baseline."""
    cells: dict[str, dict[str, dict]] = {}
    scores: dict[str, dict[str, dict[int, float]]] = {}
    for method in spec.methods:
        cells[method], scores[method] = {}, {}
        for col in spec.columns:
            s = seed_scores(records, method, col, col.metric or spec.metric)
            scores[method][col.label] = s
            vals = np.array(list(s.values())) * spec.scale
            cells[method][col.label] = {
                "mean": float(vals.mean()) if len(vals) else None,
                "std": float(vals.std(ddof=1)) if len(vals) > 1 else None,
                "n": len(vals),
                "seeds": sorted(s),
            }
    significance: dict[str, dict] = {}
    if spec.significance and spec.reference in spec.methods:
        for col in spec.columns:
            if not col.test:
                continue
            candidates = [m for m in spec.baselines() if cells[m][col.label]["mean"] is not None]
            ref = scores[spec.reference][col.label]
            if not candidates or not ref:
                continue
            best = max(candidates, key=lambda m: cells[m][col.label]["mean"])
            test = paired_test(ref, scores[best][col.label])
            diff = cells[spec.reference][col.label]["mean"] - cells[best][col.label]["mean"]
            significance[col.label] = {
                "best_baseline": best,
                "difference": diff,
                **test,
                "significant": bool(test["p"] is not None and test["p"] < spec.alpha and diff > 0),
            }
    return {"cells": cells, "significance": significance}


def ablation_tests(records: Sequence[dict], spec: TableSpec) -> dict[str, dict[str, Any]]:
    """Per ablation row: the one-sided paired t-test over seeds, full model greater than the row,
    on the table's last column (the overall average)."""
    column = spec.columns[-1]
    ref = seed_scores(records, spec.reference, column, spec.metric)
    out = {}
    for method in spec.methods:
        if method == spec.reference:
            continue
        other = seed_scores(records, method, column, spec.metric)
        common = sorted(set(ref) & set(other))
        diff = (float(np.mean([ref[s] - other[s] for s in common])) * spec.scale) if common else None
        out[method] = {"column": column.label, "difference": diff, **paired_test(ref, other)}
    return out


def summarize_proportion(
    records_by_fraction: Mapping[float, Sequence[dict]],
    methods: Sequence[str],
    experiments: Sequence[Experiment],
    *,
    scale: float = 100.0,
    alpha: float = 0.01,
) -> dict[str, Any]:
    """Per fraction and method: the accuracy averaged over the experiments (per seed), then mean and std
    over seeds; per fraction, MGL against the best other method (one-sided paired t-test, as Table 1).

    With more than one target, also per target (its domains averaged): ``by_target[T][method]``,
    the mean per fraction, and ``versus_best[T]`` / ``versus_best["Avg"]``, per fraction MGL's
    difference to the best other method of that column, that method and the test's p.
    """
    targets = list(dict.fromkeys(e.target for e in experiments))
    if len(targets) < 2:
        targets = []  # one target: its column would repeat "Avg"
    columns = [
        Column(t, tuple((e.target, e.domain) for e in experiments if e.target == t), average=True) for t in targets
    ]
    columns.append(Column("Avg", tuple((e.target, e.domain) for e in experiments), average=True))
    fractions = sorted(records_by_fraction)
    out: dict[str, Any] = {
        "fractions": fractions,
        "methods": list(methods),
        "mean": {m: [] for m in methods},
        "std": {m: [] for m in methods},
        "n": {m: [] for m in methods},
        "significance": [],
        "by_target": {t: {m: [] for m in methods} for t in targets},
        "versus_best": {c.label: [] for c in columns},
    }
    spec = TableSpec("proportion", "", list(methods), columns, scale=scale, alpha=alpha)
    for f in fractions:
        summary = summarize(records_by_fraction[f], spec)
        for m in methods:
            cell = summary["cells"][m]["Avg"]
            out["mean"][m].append(cell["mean"])
            out["std"][m].append(cell["std"])
            out["n"][m].append(cell["n"])
            for t in out["by_target"]:
                out["by_target"][t][m].append(summary["cells"][m][t]["mean"])
        out["significance"].append(summary["significance"].get("Avg"))
        for c in columns:
            out["versus_best"][c.label].append(summary["significance"].get(c.label))
    return out
