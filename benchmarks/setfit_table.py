"""SetFit's cells beside mgl's on the same rows: per target and seed, from two grids' stored cells.

The SetFit grid (``mgl experiment compare ... --methods setfit[,setfit-pooled]``) and the committed
grid of mgl's methods read the same data, splits and seeded subsample (a cell is named by method,
target, domain and seed), so their cells compare one to one. For every (target, seed) where SetFit
has a cell: its test accuracy and training time beside the default ensemble's, MGL's and the pooled
logistic regression's (the simplest strong reference), and the paired differences over all of them.

    python benchmarks/setfit_table.py docs/results/raw/sib200-setfit docs/results/raw/sib200 \\
        --out docs/results/raw/setfit_sib200.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from _common import claim_out, write_out

DEFAULT = "ensemble[mgl+mix+logreg-pooled+logreg-chars]"
OURS = (DEFAULT, "mgl", "logreg-pooled")
NAMES = {DEFAULT: "Ensemble (default)", "mgl": "MGL", "logreg-pooled": "LR pooled"}


def cells(folder: Path) -> dict[tuple[str, str, int], dict]:
    out = {}
    for path in (folder / "cells").glob("*.json"):
        r = json.loads(path.read_text(encoding="utf-8"))
        out[(r["method"], r["target"], int(r["seed"]))] = r
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("setfit_grid", type=Path)
    parser.add_argument("mgl_grid", type=Path)
    parser.add_argument("--out", default="benchmarks/out/setfit_table.json")
    args = parser.parse_args(argv)
    claim_out(args.out)
    from scipy import stats

    theirs, ours = cells(args.setfit_grid), cells(args.mgl_grid)
    methods = sorted({m for m, _, _ in theirs if m.startswith("setfit")})
    rows = []
    for method in methods:
        for (m, target, seed), r in sorted(theirs.items()):
            if m != method or any((o, target, seed) not in ours for o in OURS):
                continue
            rows.append(
                {
                    "method": method,
                    "target": target,
                    "seed": seed,
                    "setfit": r["accuracy"],
                    "setfit_val": r.get("val_accuracy"),
                    "setfit_seconds": r.get("train_seconds"),
                    **{o: ours[(o, target, seed)]["accuracy"] for o in OURS},
                    "ensemble_seconds": ours[(DEFAULT, target, seed)].get("train_seconds"),
                }
            )
    tests = {}
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        for o in OURS:
            d = np.array([r["setfit"] - r[o] for r in mine])
            t = stats.ttest_rel([r["setfit"] for r in mine], [r[o] for r in mine]) if len(d) > 1 and d.any() else None
            tests[f"{method} - {o}"] = {
                "pairs": len(d),
                "mean_difference": round(float(d.mean()) * 100, 2) if len(d) else None,
                "t": None if t is None else round(float(t.statistic), 3),
                "p": None if t is None else float(t.pvalue),
            }
    lines = [
        "| SetFit | target | seed | SetFit | "
        + " | ".join(NAMES[o] for o in OURS)
        + " | SetFit train s | ensemble train s |",
        "|---|---|---:|---:|" + "---:|" * len(OURS) + "---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['target']} | {r['seed']} | {r['setfit'] * 100:.2f} | "
            + " | ".join(f"{r[o] * 100:.2f}" for o in OURS)
            + f" | {r['setfit_seconds']:.0f} | {r['ensemble_seconds']:.0f} |"
        )
    md = "\n".join(lines) + "\n"
    print(md)
    print(json.dumps(tests, indent=1))
    write_out(
        args.out,
        {
            "command": f"python benchmarks/setfit_table.py {args.setfit_grid} {args.mgl_grid}",
            "rows": rows,
            "paired": tests,
            "table": md,
        },
    )
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
