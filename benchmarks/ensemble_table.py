"""The evidence behind the product's default method, from a finished Table 1 grid scored through the one scorer.

Reads a ``mgl experiment table1`` folder whose cells keep their probabilities (grid version 2)
and reports, in one Markdown file and a JSON:

* each method's mean validation accuracy (the target's 400 validation reviews) and test accuracy
  over the 9 experiments x seeds, and the method with the best **validation** average (the
  default is chosen on it); beside it the accuracy on the validation rows that no method selected
  anything on (every method tunes and stops early on the same random 320 of the 400, drawn by
  :func:`mgl.methods.validation_rows.validation_rows`; the other 80 are an unbiased estimate);
* a paired t-test over the experiment-seeds of the ensemble against the best single method
  (by mean test accuracy, and by mean validation accuracy);
* ``auto``: per experiment-seed, the method with the best accuracy on the validation rows no
  method selected on (ties: the fixed default first, then the table's order), scored on test:
  what choosing the method per data set would give, against the fixed default;
* calibration on one experiment (default JA books): each method's temperature fitted on its
  validation probabilities, the expected calibration error (15 bins) of its test probabilities
  before and after, mean over seeds.

    python benchmarks/ensemble_table.py --grid runs/table1-ensemble --out docs/results/ensemble.json
    python benchmarks/ensemble_table.py --grid docs/results/raw/table1-ensemble \
        --extra "ensemble[mgl+mix+logreg-pooled+logreg-chars]" --out docs/results/raw/table1_chars_default.json
    python benchmarks/ensemble_table.py --grid docs/results/raw/sib200 --calibration yo \
        --out docs/results/raw/sib200_default.json   # SIB-200: no domains
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from _common import claim_out, write_out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", required=True)
    parser.add_argument(
        "--calibration",
        default="ja:books",
        help="TARGET:DOMAIN (or TARGET where there are no domains) of the calibration table.",
    )
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        help="A further method of the grid's stored cells, e.g. an ensemble derived by `mgl experiment report "
        "--ensemble` (`ensemble[mgl+mix+logreg-pooled+logreg-chars]`): ranked with the others and compared, "
        "paired, with the default ensemble (repeatable).",
    )
    parser.add_argument("--out", default="benchmarks/out/ensemble.json")
    args = parser.parse_args()
    claim_out(args.out)
    from scipy.stats import ttest_rel

    from mgl.config import RunConfig
    from mgl.data.preparation import prepare_data
    from mgl.grid import Cell, CellStore, Experiment
    from mgl.methods import display_name

    grid = Path(args.grid)
    meta = json.loads((grid / "grid.json").read_text())
    experiments = [Experiment(e["target"], e["domain"], tuple(e["sources"])) for e in meta["experiments"]]
    methods, seeds = [*meta["methods"], *(m for m in args.extra if m not in meta["methods"])], meta["seeds"]
    store = CellStore(grid, meta["fingerprint"])
    scores: dict[str, dict[tuple, tuple[float, float]]] = {m: {} for m in methods}
    for m in methods:
        for e in experiments:
            for s in seeds:
                r = store.load(Cell(m, e, s))
                if r is not None:
                    scores[m][(e, s)] = (r["val_accuracy"], r["accuracy"])
    # accuracy on the validation rows no method selected on (per cell, from its stored probabilities)
    from mgl.methods.validation_rows import validation_rows

    cfg_all = RunConfig.from_dict(meta["config"])
    held: dict[str, dict[tuple, float]] = {m: {} for m in methods}
    n_val, n_unselected = set(), set()
    for e in experiments:
        c = RunConfig.from_dict(meta["config"])
        c.data.target, c.data.sources, c.data.domain = e.target, list(e.sources), e.domain
        for s in seeds:
            data = prepare_data(c.validate().data, s)
            t = data.table
            val = t.rows(languages=e.target, split="validation")
            chosen = validation_rows(t, data.sources, data.target, cfg_all.mgl, s).target
            keep = ~np.isin(val, chosen)
            n_val.add(len(val))
            n_unselected.add(int(keep.sum()))
            for m in methods:
                p = store.probabilities(Cell(m, e, s))
                if p is not None and keep.any():
                    held[m][(e, s)] = float((p["validation"][keep].argmax(1) == t.labels[val][keep]).mean())
    full = [m for m in methods if len(scores[m]) == len(experiments) * len(seeds)]
    lines = [
        f"Grid `{grid}`: {len(experiments)} experiments x {len(seeds)} seeds; "
        f"{sum(len(v) for v in scores.values())} cells.",
        "",
        f"| method | validation, all {_span(n_val)} rows (%) | validation, the {_span(n_unselected)} rows no method "
        "selected on (%) | test (%) | cells |",
        "|---|---:|---:|---:|---:|",
    ]
    summary = {}
    for m in methods:
        v = scores[m]
        if not v:
            continue
        val = float(np.mean([a for a, _ in v.values()]) * 100)
        test = float(np.mean([b for _, b in v.values()]) * 100)
        unsel = float(np.mean(list(held[m].values())) * 100) if held[m] else None
        summary[m] = {
            "validation": round(val, 2),
            "validation_unselected": None if unsel is None else round(unsel, 2),
            "test": round(test, 2),
            "cells": len(v),
        }
        shown = "none" if unsel is None else f"{unsel:.2f}"
        lines.append(f"| {display_name(m)} | {val:.2f} | {shown} | {test:.2f} | {len(v)} |")
    ranked = sorted((m for m in full), key=lambda m: -summary[m]["validation"])
    best_val = ranked[0] if ranked else None
    # never ranked on an empty set: where every validation row was selected on, there is no such ranking
    ranked_u = sorted(
        (m for m in full if summary[m]["validation_unselected"] is not None),
        key=lambda m: -summary[m]["validation_unselected"],
    )
    lines += [
        "",
        (
            f"Best validation average (all rows): **{display_name(best_val)}** "
            f"({summary[best_val]['validation']:.2f}); on the rows no method selected on: "
            + (
                f"**{display_name(ranked_u[0])}** ({summary[ranked_u[0]]['validation_unselected']:.2f})."
                if ranked_u
                else "none (every method selected on every validation row: no unbiased ranking, no auto choice)."
            )
        )
        if best_val
        else "No method has every cell.",
    ]
    tests = {}
    if "ensemble" in full:
        singles = [m for m in full if m != "ensemble"]
        keys = sorted(scores["ensemble"], key=lambda k: (k[0].target, k[0].domain or "", k[1]))
        for by in ("test", "validation", "validation_unselected"):
            if any(summary[m][by] is None for m in singles):
                continue
            best = max(singles, key=lambda m: summary[m][by])
            a = np.array([scores["ensemble"][k][1] for k in keys])
            b = np.array([scores[best][k][1] for k in keys])
            tests[by] = {"best_single": best, **_paired(a, b)}
            lines.append(
                f"Ensemble - {display_name(best)} (the best single method by mean {by}), test accuracy over "
                f"{len(keys)} experiment-seeds: {tests[by]['mean_diff']:+.2f} points, t = {tests[by]['t']:.2f}, "
                f"p = {tests[by]['p_two_sided']:.4f} (two-sided paired t-test); ensemble ahead in "
                f"{tests[by]['wins']}, level in {tests[by]['ties']}, behind in {tests[by]['losses']}."
            )
    # each --extra method against the default ensemble, paired over the experiment-seeds
    versus = {}
    for m in args.extra:
        if m not in full or "ensemble" not in full:
            continue
        keys = sorted(scores["ensemble"], key=lambda k: (k[0].target, k[0].domain or "", k[1]))
        versus[m] = {}
        for by, get in (("test", lambda x, k: scores[x][k][1]), ("validation_unselected", lambda x, k: held[x].get(k))):
            pairs = [(get(m, k), get("ensemble", k)) for k in keys]
            if any(a is None or b is None for a, b in pairs):
                continue  # never compared on an empty set
            a, b = np.array(pairs, dtype=float).T
            versus[m][by] = _paired(a, b)
            v = versus[m][by]
            lines.append(
                f"{display_name(m)} - Ensemble, {by.replace('_', ' ')} accuracy over {v['pairs']} experiment-seeds: "
                f"{v['mean_diff']:+.2f} points, t = {v['t']:.2f}, p = {v['p_two_sided']:.4f} (paired); ahead in "
                f"{v['wins']}, level in {v['ties']}, behind in {v['losses']}."
            )
    # auto: per experiment-seed, the method best on the rows no method selected on
    auto = {}
    if "ensemble" in full and ranked_u:
        order = ["ensemble", *[m for m in full if m != "ensemble"]]
        keys = sorted(scores["ensemble"], key=lambda k: (k[0].target, k[0].domain or "", k[1]))
        picks = {k: max(order, key=lambda m: (held[m].get(k, -1.0), -order.index(m))) for k in keys}
        a = np.array([scores[picks[k]][k][1] for k in keys])
        b = np.array([scores["ensemble"][k][1] for k in keys])
        t = ttest_rel(a, b)
        counts: dict[str, int] = {}
        for m in picks.values():
            counts[m] = counts.get(m, 0) + 1
        auto = {
            "test": round(float(a.mean() * 100), 2),
            "ensemble_test": round(float(b.mean() * 100), 2),
            "mean_diff": round(float((a - b).mean() * 100), 3),
            "t": round(float(t.statistic), 3),
            "p_two_sided": round(float(t.pvalue), 4),
            "picked": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
        }
        lines.append(
            f"Auto (per experiment-seed, the method best on the rows no method selected on): test {auto['test']:.2f} "
            f"against the fixed ensemble's {auto['ensemble_test']:.2f} ({auto['mean_diff']:+.2f} points, t = {auto['t']:.2f}, "
            f"p = {auto['p_two_sided']:.4f}); picked "
            + ", ".join(f"{display_name(m)} {n}x" for m, n in auto["picked"].items())
            + "."
        )
    # calibration on one experiment
    cal_summary = {}
    if args.calibration != "none":
        cal_lines, cal_summary = _calibration_table(args.calibration, experiments, methods, seeds, meta, store)
        lines += cal_lines
    text = "\n".join(lines) + "\n"
    print(text)
    write_out(
        args.out,
        {
            "summary": summary,
            "best_validation": best_val,
            "tests": tests,
            "auto": auto,
            "versus_ensemble": versus,
            "calibration": cal_summary,
            "markdown": text,
        },
    )
    return 0


def _paired(a: np.ndarray, b: np.ndarray) -> dict:
    """A paired two-sided t-test of accuracies ``a`` against ``b`` (one per experiment-seed), in points."""
    from scipy.stats import ttest_rel

    t = ttest_rel(a, b)
    return {
        "mean_diff": round(float((a - b).mean() * 100), 3),
        "t": round(float(t.statistic), 3),
        "p_two_sided": round(float(t.pvalue), 4),
        "wins": int((a > b).sum()),
        "ties": int((a == b).sum()),
        "losses": int((a < b).sum()),
        "pairs": len(a),
    }


def _calibration_table(calibration, experiments, methods, seeds, meta, store):
    """Calibration on one experiment (``TARGET:DOMAIN``): per method, the temperature fitted on its
    validation probabilities and the test ECE before and after; the Markdown lines and the summary."""
    from mgl.config import RunConfig
    from mgl.data.preparation import prepare_data
    from mgl.grid import Cell
    from mgl.methods import display_name
    from mgl.model.calibration import apply_temperature, expected_calibration_error, fit_temperature

    lines: list[str] = []
    target, _, domain = calibration.partition(":")
    exp = next(e for e in experiments if e.target == target and (e.domain or "") == domain)
    cfg = RunConfig.from_dict(meta["config"])
    cfg.data.target, cfg.data.sources, cfg.data.domain = exp.target, list(exp.sources), exp.domain
    cal = {}
    for s in seeds:
        data = prepare_data(cfg.validate().data, s)
        t = data.table
        val, test = t.rows(languages=target, split="validation"), t.rows(languages=target, split="test")
        for m in methods:
            p = store.probabilities(Cell(m, exp, s))
            if p is None:
                continue
            temp = fit_temperature(p["validation"], t.labels[val])
            cal.setdefault(m, []).append(
                (
                    temp,
                    expected_calibration_error(p["test"], t.labels[test]),
                    expected_calibration_error(apply_temperature(p["test"], temp), t.labels[test]),
                )
            )
    lines += [
        "",
        f"Calibration on {exp.label} (temperature fitted on the validation rows; ECE of the test "
        "probabilities, 15 bins; mean over seeds):",
        "",
        "| method | seeds | temperature | ECE before | ECE after |",
        "|---|---:|---:|---:|---:|",
    ]
    cal_summary = {}
    for m, rows in cal.items():
        arr = np.array(rows)
        cal_summary[m] = {
            "seeds": len(rows),
            "temperature": round(float(arr[:, 0].mean()), 3),
            "ece_before": round(float(arr[:, 1].mean()), 4),
            "ece_after": round(float(arr[:, 2].mean()), 4),
        }
        lines.append(
            f"| {display_name(m)} | {len(rows)} | {arr[:, 0].mean():.3f} | {arr[:, 1].mean():.4f} | "
            f"{arr[:, 2].mean():.4f} |"
        )
    return lines, cal_summary


def _span(values: set[int]) -> str:
    return "-".join(str(v) for v in sorted({min(values), max(values)})) if values else "?"


if __name__ == "__main__":
    sys.exit(main())
