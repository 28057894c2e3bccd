"""The heterogeneous-languages table (SIB-200) from a finished or partial grid's cells.

Reads the cells of ``mgl experiment compare --data sib-200 ... --out GRID`` and the SIB-200
paper's Table 7 (``$MGL_DATA/sib-200/REFERENCE.tsv``), and writes a Markdown table (per target:
every method's accuracy and macro-F1, mean over the seeds present, beside the paper's XLM-R large
transfer from English, XLM-R large fully supervised and GPT-4 zero-shot), averages by group
(seen / unseen by XLM-R's pre-training; Latin / other scripts), and a paired t-test of MGL against
the best other method over (target, seed) pairs. Only targets whose every method has the same
seeds enter the averages, so a partial grid is summarised honestly; the page says how many seeds.

    MGL_DATA=../shared/data python benchmarks/sib200_table.py docs/results/raw/sib200 \\
        --out docs/results/raw/sib200_table.json --md docs/results/sib200.md
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

from _common import claim_out, require_mgl_data, write_out

METHODS = [
    "mgl",
    "ensemble",
    "mix",
    "reptile",
    "multi-task",
    "fine-tune",
    "target-only",
    "logreg-pooled",
    "logreg-target",
]
CEILING = ["ensemble", "logreg-pooled", "logreg-target"]
NAMES = {
    "mgl": "MGL",
    "ensemble": "Ensemble",
    "mix": "Mix",
    "reptile": "Reptile",
    "multi-task": "Multi-task",
    "fine-tune": "Fine-tune",
    "target-only": "Target-only",
    "logreg-pooled": "LR pooled",
    "logreg-target": "LR target",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/sib200_table.json"))
    parser.add_argument("--md", type=Path, default=None, help="also write the Markdown page here")
    parser.add_argument("--seeds", default=None, help="only these seeds, comma-separated (default: every seed found)")
    parser.add_argument(
        "--ceiling",
        type=Path,
        default=None,
        help="a grid of the same targets with every target label (data.target_fraction=1.0): its ensemble and "
        "regressions become the 100%%-label ceiling columns",
    )
    args = parser.parse_args(argv)
    claim_out(args.out)
    if args.md is not None:
        claim_out(args.md)
    data = require_mgl_data("sib200_table")
    if data is None:
        return 2
    from scipy import stats

    from mgl.data.languages import canonical_language, language_name
    from mgl.data.sib200 import sib200_folders

    folders = sib200_folders(data / "sib-200")
    reference = {}
    with open(data / "sib-200" / "REFERENCE.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            reference[canonical_language(row["code"])] = row
    cells: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    for path in sorted((args.grid / "cells").glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        if args.seeds is None or int(rec["seed"]) in {int(s) for s in args.seeds.split(",")}:
            cells[(rec["target"], rec["method"])][int(rec["seed"])] = rec
    targets = sorted({t for t, _ in cells}, key=lambda t: (reference.get(t, {}).get("in_xlmr_pretraining", ""), t))
    complete = [
        t
        for t in targets
        if all(cells.get((t, m)) for m in METHODS) and len({frozenset(cells[(t, m)]) for m in METHODS}) == 1
    ]
    seeds = {t: sorted(cells[(t, METHODS[0])]) for t in complete}

    def mean(t, m, key):
        vals = [cells[(t, m)][s][key] for s in seeds[t]]
        return 100 * sum(vals) / len(vals)

    ceiling: dict[str, dict[str, list[float]]] = defaultdict(dict)
    if args.ceiling is not None:
        for path in sorted((args.ceiling / "cells").glob("*.json")):
            rec = json.loads(path.read_text(encoding="utf-8"))
            if rec["method"] in CEILING:
                ceiling[rec["target"]].setdefault(rec["method"], []).append(100 * rec["accuracy"])
    rows = []
    for t in complete:
        ref = reference.get(t, {})
        rows.append(
            {
                "target": t,
                "folder": folders.get(t),
                "name": language_name(t),
                "seeds": seeds[t],
                "seen_by_xlmr": ref.get("in_xlmr_pretraining"),
                "script": (folders.get(t) or "_").split("_")[-1],
                "accuracy": {m: mean(t, m, "accuracy") for m in METHODS},
                "macro_f1": {m: mean(t, m, "f1") for m in METHODS},
                "xlmr_large_transfer_from_eng": _num(ref.get("xlmr_large_transfer_from_eng")),
                "xlmr_large_supervised": _num(ref.get("xlmr_large_supervised")),
                "gpt4_zero_shot": _num(ref.get("gpt4_zero_shot")),
                "ceiling": {m: sum(v) / len(v) for m, v in ceiling.get(t, {}).items()},
            }
        )
    groups = {
        "all": rows,
        "seen by XLM-R": [r for r in rows if r["seen_by_xlmr"] == "yes"],
        "unseen by XLM-R": [r for r in rows if r["seen_by_xlmr"] == "no"],
        "Latin script": [r for r in rows if r["script"] == "Latn"],
        "other scripts": [r for r in rows if r["script"] != "Latn"],
    }
    averages = {
        g: {
            "n": len(rs),
            **{m: sum(r["accuracy"][m] for r in rs) / len(rs) for m in METHODS},
            **{f"{m}/f1": sum(r["macro_f1"][m] for r in rs) / len(rs) for m in METHODS},
        }
        for g, rs in groups.items()
        if rs
    }
    # paired test: MGL against the best other method (by mean accuracy over all complete targets)
    others = [m for m in METHODS if m != "mgl"]
    best = max(others, key=lambda m: averages["all"][m]) if rows else None
    test = None
    if best is not None:
        a = [cells[(t, "mgl")][s]["accuracy"] for t in complete for s in seeds[t]]
        b = [cells[(t, best)][s]["accuracy"] for t in complete for s in seeds[t]]
        if len(a) >= 2:
            res = stats.ttest_rel(a, b)
            test = {
                "against": best,
                "pairs": len(a),
                "mean_difference": 100 * (sum(a) - sum(b)) / len(a),
                "t": float(res.statistic),
                "p_two_sided": float(res.pvalue),
            }
    result = {
        "grid": str(args.grid),
        "targets_complete": complete,
        "targets_partial": sorted(set(targets) - set(complete)),
        "rows": rows,
        "averages": averages,
        "paired_test": test,
    }
    write_out(args.out, result)
    text = render(result)
    print(text)
    if args.md is not None:
        from mgl.io import write_text_atomic
        from mgl.outputs import record_written

        write_text_atomic(args.md, text)
        record_written(args.md, "benchmark")
    return 0


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _f(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def render(result: dict) -> str:
    rows, averages, test = result["rows"], result["averages"], result["paired_test"]
    n_seeds = sorted({len(r["seeds"]) for r in rows})
    lines = [
        "| Target | XLM-R | "
        + " | ".join(NAMES[m] for m in METHODS)
        + " | XLM-R L transfer (en) | XLM-R L supervised | GPT-4 0-shot |",
        "|---|---|" + "---:|" * (len(METHODS) + 3),
    ]
    for r in rows:
        best = max(METHODS, key=lambda m: r["accuracy"][m])
        cells = [
            (f"**{r['accuracy'][m]:.1f}**" if m == best else f"{r['accuracy'][m]:.1f}") + f" / {r['macro_f1'][m]:.1f}"
            for m in METHODS
        ]
        lines.append(
            f"| {r['target']} ({r['name']}) | {r['seen_by_xlmr']} | "
            + " | ".join(cells)
            + f" | {_f(r['xlmr_large_transfer_from_eng'])} | {_f(r['xlmr_large_supervised'])} | "
            f"{_f(r['gpt4_zero_shot'])} |"
        )
    lines += [
        "",
        "| Group | targets | " + " | ".join(NAMES[m] for m in METHODS) + " |",
        "|---|---:|" + "---:|" * len(METHODS),
    ]
    for g, a in averages.items():
        lines.append(f"| {g} | {a['n']} | " + " | ".join(f"{a[m]:.1f} / {a[m + '/f1']:.1f}" for m in METHODS) + " |")
    if test:
        lines += [
            "",
            f"Paired t-test over {test['pairs']} (target, seed) pairs, MGL against {NAMES[test['against']]} "
            f"(the best other method on average): mean difference {test['mean_difference']:+.2f} points, "
            f"t = {test['t']:.2f}, two-sided p = {test['p_two_sided']:.3g}.",
        ]
    lines += [
        "",
        f"Cells: accuracy / macro-F1 (%) on the target's 204 test sentences, mean over {', '.join(map(str, n_seeds))} seed(s); "
        "bold: the best accuracy of the row. Reference columns: the SIB-200 paper's Table 7 "
        "(accuracy %).",
    ]
    if result["targets_partial"]:
        lines.append(f"Targets with unfinished cells, left out: {', '.join(result['targets_partial'])}.")
    with_ceiling = [r for r in rows if all(m in r["ceiling"] for m in CEILING)]
    if with_ceiling:
        lines += [
            "",
            "**The 100%-label ceiling** (every one of the target's 701 training labels; accuracy %):",
            "",
            "| Target | Ensemble, 10% | Ensemble, 100% | LR pooled, 100% | LR target, 100% | XLM-R L supervised (100%) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in with_ceiling:
            c = r["ceiling"]
            lines.append(
                f"| {r['target']} | {r['accuracy']['ensemble']:.1f} | {c['ensemble']:.1f} | {c['logreg-pooled']:.1f} | "
                f"{c['logreg-target']:.1f} | {_f(r['xlmr_large_supervised'])} |"
            )
        for g, keep in (
            ("all", lambda r: True),
            ("seen by XLM-R", lambda r: r["seen_by_xlmr"] == "yes"),
            ("unseen by XLM-R", lambda r: r["seen_by_xlmr"] == "no"),
        ):
            rs = [r for r in with_ceiling if keep(r)]
            if not rs:
                continue
            sup = [r["xlmr_large_supervised"] for r in rs if r["xlmr_large_supervised"] is not None]
            lines.append(
                f"| *mean, {g} ({len(rs)})* | {sum(r['accuracy']['ensemble'] for r in rs) / len(rs):.1f} | "
                + " | ".join(f"{sum(r['ceiling'][m] for r in rs) / len(rs):.1f}" for m in CEILING)
                + f" | {sum(sup) / len(sup):.1f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
