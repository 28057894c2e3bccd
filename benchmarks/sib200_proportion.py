"""The label-proportion sweep on SIB-200 (the paper's Fig. 5 claim, where the target is far from the sources).

For each share of the target's training labels kept, one ``mgl experiment compare --data sib-200``
grid in its own folder ``GRID/fraction-F/`` (resumable: a finished cell is never recomputed), the
same four sources as the heterogeneous-languages table, then one table and one plot: accuracy and
macro-F1 per method and share (mean over the targets and seeds present), and MGL's lead over the
best other single method at each share. A share whose cells already exist in another grid (the
main table's 10%) is read from there with ``--reuse F=FOLDER``; that grid drew the same rows (the
subsample depends on the seed and the share only).

    MGL_DATA=../shared/data python benchmarks/sib200_proportion.py run --grid docs/results/raw/sib200-proportion \\
        --targets yor_Latn,tir_Ethi,quy_Latn,khm_Khmr --fractions 0.01,0.02,0.05,0.25,0.5,1 --seeds 1
    python benchmarks/sib200_proportion.py report --grid docs/results/raw/sib200-proportion \\
        --reuse 0.1=docs/results/raw/sib200 --seeds 1 --out docs/results/raw/sib200_proportion.json \\
        --md docs/results/sib200_proportion_table.md --png docs/results/sib200_proportion.png
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from _common import claim_out, require_mgl_data, write_out

SOURCES = "eng_Latn,fra_Latn,zho_Hans,arb_Arab"
METHODS = ["mgl", "ensemble", "mix", "reptile", "fine-tune", "logreg-pooled", "logreg-target"]
NAMES = {
    "mgl": "MGL",
    "ensemble": "Ensemble",
    "mix": "Mix",
    "reptile": "Reptile",
    "fine-tune": "Fine-tune",
    "logreg-pooled": "LogReg (pooled)",
    "logreg-target": "LogReg (target)",
}


def _fraction_dir(grid: Path, fraction: float) -> Path:
    from mgl.grid import fraction_dir

    return fraction_dir(grid, fraction)


def run(args) -> int:
    data = require_mgl_data("sib200_proportion")
    if data is None:
        return 2
    for f in args.fractions:
        cmd = [
            sys.executable,
            "-m",
            "mgl",
            "experiment",
            "compare",
            "--data",
            "sib-200",
            "--root",
            str(data / "sib-200"),
            "--sources",
            SOURCES,
            "--targets",
            args.targets,
            "--seeds",
            str(args.seeds),
            "--methods",
            "mgl,mix,reptile,fine-tune,ensemble",
            "--set",
            f"data.target_fraction={f:g}",
            "--out",
            str(_fraction_dir(args.grid, f)),
            "--quiet",
        ]
        print(f"fraction {f:g}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        rc = subprocess.call(cmd)
        if rc != 0:
            return rc
    return 0


def _cells(folder: Path, seeds: set[int], targets: set[str] | None) -> dict:
    cells: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    for path in sorted((folder / "cells").glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        if int(rec["seed"]) in seeds and rec["method"] in METHODS and (targets is None or rec["target"] in targets):
            cells[(rec["target"], rec["method"])][int(rec["seed"])] = rec
    return cells


def report(args) -> int:
    for path in (args.out, args.md, args.png):
        if path is not None:
            claim_out(path)
    seeds = set(range(args.seeds))
    folders = {float(p.name.split("-", 1)[1]): p for p in sorted(args.grid.glob("fraction-*")) if p.is_dir()}
    sweep_targets = None
    for folder in folders.values():
        meta = json.loads((folder / "grid.json").read_text(encoding="utf-8"))
        sweep_targets = {e["target"] for e in meta["experiments"]}
        break
    for item in args.reuse or []:
        f, folder = item.split("=", 1)
        folders[float(f)] = Path(folder)
    by_fraction = {}
    for f in sorted(folders):
        cells = _cells(folders[f], seeds, sweep_targets)
        targets = sorted({t for t, _ in cells})
        complete = [t for t in targets if all(set(cells.get((t, m), {})) == seeds for m in METHODS)]
        if not complete:
            continue
        acc = {
            m: 100 * sum(cells[(t, m)][s]["accuracy"] for t in complete for s in seeds) / (len(complete) * len(seeds))
            for m in METHODS
        }
        f1 = {
            m: 100 * sum(cells[(t, m)][s]["f1"] for t in complete for s in seeds) / (len(complete) * len(seeds))
            for m in METHODS
        }
        per_target = {
            t: {m: 100 * sum(cells[(t, m)][s]["accuracy"] for s in seeds) / len(seeds) for m in METHODS}
            for t in complete
        }
        n_train_target = sorted({cells[(t, "mgl")][s]["n_train_target"] for t in complete for s in seeds})
        others = [m for m in METHODS if m not in ("mgl", "ensemble")]
        best = max(others, key=lambda m: acc[m])
        by_fraction[f] = {
            "targets": complete,
            "n_train_target": n_train_target,
            "accuracy": acc,
            "macro_f1": f1,
            "per_target": per_target,
            "best_single_other": best,
            "mgl_lead": acc["mgl"] - acc[best],
            "ensemble_minus_mgl": acc["ensemble"] - acc["mgl"],
        }
    result = {"grid": str(args.grid), "seeds": sorted(seeds), "sources": SOURCES.split(","), "fractions": by_fraction}
    if args.out is not None:
        write_out(args.out, result)
    text = render(result)
    print(text)
    if args.md is not None:
        from mgl.io import write_text_atomic
        from mgl.outputs import record_written

        write_text_atomic(args.md, text)
        record_written(args.md, "benchmark")
    if args.png is not None:
        from mgl.outputs import record_written
        from mgl.plots import plot_proportion

        fractions = sorted(by_fraction)
        plot_proportion(
            fractions,
            {NAMES[m]: [by_fraction[f]["accuracy"][m] for f in fractions] for m in METHODS},
            args.png,
            title="SIB-200: accuracy vs. share of the target's labels",
            note=f"mean over {len(by_fraction[fractions[0]]['targets'])} targets, "
            f"{len(seeds)} seed(s); sources en, fr, zh, ar",
        )
        record_written(args.png, "benchmark")
    return 0


def render(result: dict) -> str:
    lines = [
        "| Share kept | target labels | " + " | ".join(NAMES[m] for m in METHODS) + " | MGL - best other single |",
        "|---:|---:|" + "---:|" * (len(METHODS) + 1),
    ]
    for f, row in sorted(result["fractions"].items(), key=lambda kv: float(kv[0])):
        best = max(METHODS, key=lambda m: row["accuracy"][m])
        cells = [
            (f"**{row['accuracy'][m]:.1f}**" if m == best else f"{row['accuracy'][m]:.1f}")
            + f" / {row['macro_f1'][m]:.1f}"
            for m in METHODS
        ]
        n = row["n_train_target"]
        labels = str(n[0]) if len(n) == 1 else f"{n[0]}-{n[-1]}"
        lines.append(
            f"| {100 * float(f):g}% | {labels} | "
            + " | ".join(cells)
            + f" | {row['mgl_lead']:+.1f} ({NAMES[row['best_single_other']]}) |"
        )
    lines += [
        "",
        "Cells: accuracy / macro-F1 (%) on the targets' test sentences, mean over the targets and "
        f"seed(s) {', '.join(map(str, result['seeds']))}; bold: the best accuracy of the row.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run (or resume) the grids, one per share")
    p_run.add_argument("--grid", type=Path, required=True)
    p_run.add_argument("--targets", required=True)
    p_run.add_argument("--fractions", type=lambda s: [float(x) for x in s.split(",")], required=True)
    p_run.add_argument("--seeds", type=int, default=1)
    p_rep = sub.add_parser("report", help="the table and plot from the finished cells")
    p_rep.add_argument("--grid", type=Path, required=True)
    p_rep.add_argument("--reuse", action="append", help="F=FOLDER: read share F's cells from another grid")
    p_rep.add_argument("--seeds", type=int, default=1)
    p_rep.add_argument("--out", type=Path, default=None)
    p_rep.add_argument("--md", type=Path, default=None)
    p_rep.add_argument("--png", type=Path, default=None)
    args = parser.parse_args(argv)
    return run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    sys.exit(main())
