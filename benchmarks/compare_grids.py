"""Compare the cells two grid folders share: metrics equal exactly, probabilities bit for bit.

A grid re-run (a subset of its experiments, seeds or methods) into a fresh folder is compared with
the committed one, cell by cell (same file name under ``cells/``): accuracy, precision, recall,
F1, validation accuracy (and an ensemble's members' accuracies) equal as stored, and the stored float32 validation and test
probabilities equal bit for bit (the largest absolute difference is reported where they are not).

    python benchmarks/compare_grids.py runs/t1check docs/results/raw/table1-ensemble \\
        --out docs/results/raw/compare_t1check.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from _common import claim_out, write_out

METRICS = ("accuracy", "precision", "recall", "f1", "val_accuracy")


def load(cells: Path, name: str) -> tuple[dict, dict | None]:
    record = json.loads((cells / name).read_text(encoding="utf-8"))
    npz = cells / (Path(name).stem + ".probs.npz")
    if not npz.exists():
        return record, None
    with np.load(npz) as f:
        return record, {k: f[k] for k in f.files}


def same_cell(a: dict, b: dict, pa: dict | None, pb: dict | None) -> dict:
    """Whether two records of one cell agree: their metrics (and an ensemble's members' accuracies)
    exactly, their stored probabilities bit for bit (None where either has none), and the largest
    absolute difference of the probabilities."""
    same_metrics = all(a.get(k) == b.get(k) for k in METRICS) and (
        a.get("details", {}).get("member_accuracy") == b.get("details", {}).get("member_accuracy")
    )
    if pa is None or pb is None:
        return {"metrics": same_metrics, "probabilities": None, "max_abs_difference": None}
    same_p = set(pa) == set(pb) and all(np.array_equal(pa[k], pb[k]) for k in pa)
    diff = max(float(np.max(np.abs(pa[k] - pb[k]), initial=0.0)) for k in pa) if set(pa) == set(pb) else None
    return {"metrics": same_metrics, "probabilities": same_p, "max_abs_difference": diff}


def compare(new: Path, old: Path) -> dict:
    names = sorted(p.name for p in (new / "cells").glob("*.json") if (old / "cells" / p.name).exists())
    rows = []
    for name in names:
        a, pa = load(new / "cells", name)
        b, pb = load(old / "cells", name)
        rows.append({"cell": name, **same_cell(a, b, pa, pb)})
    return {
        "new": str(new),
        "committed": str(old),
        "cells": len(rows),
        "metrics_identical": sum(r["metrics"] for r in rows),
        "probabilities_identical": sum(bool(r["probabilities"]) for r in rows),
        "differing": [r for r in rows if not (r["metrics"] and r["probabilities"])],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", type=Path)
    parser.add_argument("committed", type=Path)
    parser.add_argument("--out", default="benchmarks/out/compare_grids.json")
    args = parser.parse_args(argv)
    claim_out(args.out)
    result = compare(args.new, args.committed)
    print(json.dumps({k: v for k, v in result.items() if k != "differing"}))
    write_out(args.out, result)
    return 0 if result["cells"] and not result["differing"] else 1


if __name__ == "__main__":
    sys.exit(main())
