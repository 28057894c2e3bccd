"""The table of docs/results/prefix.md: e5's ``passage: `` against ``query: `` prefix (and 512 tokens),
read from finished grid folders (``mgl experiment table1`` / ``table2`` runs, one per variant).

For every experiment and method (MGL, Mix, the pooled logistic regression) it reports the mean
over seeds of the validation accuracy each method selected itself on (MGL: its meta-test
stage's best; Mix: its stage's best; the regression: the accuracy of its chosen C), all on the
target's validation rows, and of the test accuracy (PAWS-X: F1 of the positive class); then the
average over experiments and a paired comparison over experiment-seeds. (What each variant
costs to embed is measured side by side by bench_prefix_cost.py: a grid's cells do not time it,
their texts being embedded in one phase before the cells.)

    python benchmarks/prefix_table.py --variant "passage: 256=runs/prefix-passage-256" \\
        --variant "query: 256=runs/prefix-query-256" --variant "query: 512=runs/prefix-query-512" \\
        --out benchmarks/out/prefix.json > prefix-table.md
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from _common import claim_out, write_out

METHODS = {"mgl": "MGL", "mix": "Mix", "logreg-pooled": "LR pooled"}


def validation(cell: dict) -> float | None:
    details = cell.get("details") or {}
    if cell["method"] == "logreg-pooled":
        return details.get("val_accuracy")
    stages = details.get("stages") or []
    if cell["method"] == "mgl":
        stages = [s for s in stages if s.get("name") == "meta-test"] or stages
    return stages[-1].get("best_accuracy") if stages else None


def load(folder: Path) -> list[dict]:
    cells = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((folder / "cells").glob("*.json"))]
    return [c for c in cells if c["method"] in METHODS]


def experiment(cell: dict) -> str:
    name = "+".join(s.upper() for s in cell["sources"]) + " -> " + cell["target"].upper()
    return f"{name} {cell['domain']}" if cell.get("domain") else f"{name} (PAWS-X)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", required=True, help="NAME=GRID_FOLDER (repeatable, in order).")
    parser.add_argument("--metric", default="accuracy", help="test metric: accuracy (Webis) or f1 (PAWS-X).")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.out is not None:
        claim_out(args.out)

    variants = {}
    for item in args.variant:
        name, _, folder = item.partition("=")
        variants[name] = load(Path(folder))
        if not variants[name]:
            sys.exit(f"prefix_table: no cells in {folder}/cells")
    # (variant, experiment, method) -> {seed: (val, test)}; embedding seconds per (variant, experiment)
    scores: dict = defaultdict(dict)
    for name, cells in variants.items():
        for c in cells:
            scores[(name, experiment(c), c["method"])][c["seed"]] = (validation(c), c[args.metric])
    experiments = sorted({e for (_, e, _) in scores}, key=lambda e: (e.split()[-1], e))
    names = list(variants)
    header = "| experiment | method | " + " | ".join(f"{n} val | {n} test" for n in names) + " |"
    lines = [header, "|---|---|" + "---:|---:|" * len(names)]
    summary: dict = {"variants": names, "experiments": {}, "averages": {}, "paired": {}}
    for e in experiments:
        for m, label in METHODS.items():
            row = [e, label]
            for n in names:
                seeds = scores.get((n, e, m), {})
                if not seeds:
                    row += ["-", "-"]
                    continue
                val = np.mean([v for v, _ in seeds.values() if v is not None]) * 100
                test = np.mean([t for _, t in seeds.values()]) * 100
                summary["experiments"].setdefault(e, {}).setdefault(m, {})[n] = {
                    "val": round(float(val), 2),
                    "test": round(float(test), 2),
                    "seeds": len(seeds),
                }
                row += [f"{val:.2f}", f"{test:.2f}"]
            lines.append("| " + " | ".join(row) + " |")
    # averages over the experiments every variant has
    lines.append("")
    lines.append(
        "| average over the experiments every variant has | method | "
        + " | ".join(f"{n} val | {n} test" for n in names)
        + " |"
    )
    lines.append("|---|---|" + "---:|---:|" * len(names))
    common = [
        e for e in experiments if all(n in summary["experiments"].get(e, {}).get(m, {}) for n in names for m in METHODS)
    ]
    for m, label in METHODS.items():
        row = ["", label]
        for n in names:
            have = [summary["experiments"][e][m][n] for e in common]
            val = np.mean([h["val"] for h in have]) if have else float("nan")
            test = np.mean([h["test"] for h in have]) if have else float("nan")
            summary["averages"].setdefault(m, {})[n] = {
                "val": round(float(val), 2),
                "test": round(float(test), 2),
                "experiments": len(have),
            }
            row += [f"{val:.2f}", f"{test:.2f}"]
        row[0] = f"{len(have)} experiments"
        lines.append("| " + " | ".join(row) + " |")
    # paired differences over experiment-seeds against the first variant, on the experiments both have
    from scipy.stats import ttest_rel

    base = names[0]
    lines.append("")
    lines.append(f"| method | variant - {base} | pairs | mean val diff | mean test diff | test p (paired t) |")
    lines.append("|---|---|---:|---:|---:|---:|")
    for m, label in METHODS.items():
        for n in names[1:]:
            pairs = [
                (scores[(base, e, m)][s], scores[(n, e, m)][s])
                for e in experiments
                for s in scores.get((n, e, m), {})
                if s in scores.get((base, e, m), {})
            ]
            if len(pairs) < 2:
                continue
            dv = np.mean([(b[0] - a[0]) * 100 for a, b in pairs if a[0] is not None and b[0] is not None])
            dt = np.mean([(b[1] - a[1]) * 100 for a, b in pairs])
            p = float(ttest_rel([b[1] for _, b in pairs], [a[1] for a, _ in pairs]).pvalue)
            summary["paired"].setdefault(m, {})[n] = {
                "pairs": len(pairs),
                "val": round(float(dv), 2),
                "test": round(float(dt), 2),
                "p": p,
            }
            lines.append(f"| {label} | {n} | {len(pairs)} | {dv:+.2f} | {dt:+.2f} | {p:.3g} |")
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        write_out(args.out, {**summary, "markdown": text})
    return 0


if __name__ == "__main__":
    sys.exit(main())
