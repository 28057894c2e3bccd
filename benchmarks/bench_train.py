"""Seconds per Table 1 cell for every method: the committed way, one by one with fused Adam, and grouped.

One experiment (default EN+FR+DE -> JA books, the ``amazon`` preset, frozen embedded
multilingual-e5-small, seed 0), embedded once from the cache; then every method trains on
the same features three times in the same process, back to back:

* ``committed``: the baselines' grid points one after the other with torch's foreach Adam (the
  way the committed Table 1 was computed);
* ``one by one``: the same with the fused Adam kernel (:func:`mgl.methods.rounds.make_adam`);
* ``grouped``: the grid points trained together (:mod:`mgl.methods.baselines.batched`, the default).

MGL and the logistic regressions have no grid: their three passes differ only by the Adam
kernel (MGL) or not at all (logistic regressions: the noise between passes). Writes JSON and
prints a table: seconds per pass, the ratios, and the accuracies (equal across the two fused
passes by construction; the foreach pass may differ in the last bits, and so in its early stopping).

    MGL_DATA=../shared/data python benchmarks/bench_train.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import add_common_options, claim_out, require_mgl_data, write_out

METHODS = ("target-only", "mix", "multi-task", "fine-tune", "reptile", "mgl", "logreg-target", "logreg-pooled")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="amazon")
    parser.add_argument("--domain", default="books")
    parser.add_argument("--sources", default="en,fr,de")
    parser.add_argument("--target", default="ja")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS))
    add_common_options(parser, "benchmarks/out/train.json")
    args = parser.parse_args(argv)
    claim_out(args.out)
    data_root = require_mgl_data("bench_train")
    if data_root is None:
        return 2

    import dataclasses

    from mgl.config import load_config
    from mgl.grid import CellRunner, Experiment
    from mgl.provenance import machine_info

    overrides = [f"data.root={data_root / 'cls-acl10-unprocessed'}", *args.overrides]
    cfg = load_config(args.preset, overrides=overrides)
    experiment = Experiment(args.target, args.domain, tuple(args.sources.split(",")))
    methods = args.methods.split(",")
    import mgl.methods.rounds

    runners = {
        mode: CellRunner(
            dataclasses.replace(cfg, baselines=dataclasses.replace(cfg.baselines, batch_candidates=batched)),
            progress=not args.quiet,
        )
        for mode, batched in (("committed", False), ("one by one", False), ("grouped", True))
    }
    for mode in ("one by one", "grouped"):
        runners[mode]._encoder = runners["committed"].encoder  # one encoder, one cache
        runners[mode]._cache = runners["committed"].cache
    rows: dict[str, dict] = {m: {} for m in methods}
    t_all = time.perf_counter()
    for method in methods:  # both passes of a method back to back: the same machine state for the pair
        for mode, runner in runners.items():
            mgl.methods.rounds.FUSED_ADAM = mode != "committed"
            [(_name, record)] = list(runner.run_group(experiment, args.seed, [method]))
            rows[method][mode] = {
                "train_seconds": record["train_seconds"],
                "accuracy": record["accuracy"],
                "embed_seconds": record["embed_seconds"],
            }
            print(
                f"{method:14s} {mode:10s} {record['train_seconds']:8.2f} s  acc {record['accuracy']:.4f}",
                file=sys.stderr,
                flush=True,
            )
    totals = {mode: sum(rows[m][mode]["train_seconds"] for m in methods) for mode in runners}
    result = {
        "experiment": {
            "target": args.target,
            "sources": args.sources.split(","),
            "domain": args.domain,
            "seed": args.seed,
            "preset": args.preset,
        },
        "methods": rows,
        "total_train_seconds": totals,
        "speed-up vs committed": totals["committed"] / totals["grouped"],
        "speed-up vs one by one": totals["one by one"] / totals["grouped"],
        "wall_seconds": time.perf_counter() - t_all,
        "machine": machine_info(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_out(out, result)
    print(
        "\n| method | committed (s) | one by one, fused Adam (s) | grouped (s) | committed / grouped | "
        "accuracy committed / one by one / grouped |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for m in methods:
        a, b, c = rows[m]["committed"], rows[m]["one by one"], rows[m]["grouped"]
        print(
            f"| {m} | {a['train_seconds']:.2f} | {b['train_seconds']:.2f} | {c['train_seconds']:.2f} | "
            f"{a['train_seconds'] / c['train_seconds']:.2f}x | {a['accuracy']:.4f} / {b['accuracy']:.4f} / "
            f"{c['accuracy']:.4f} |"
        )
    print(
        f"| **all** | {totals['committed']:.1f} | {totals['one by one']:.1f} | {totals['grouped']:.1f} | "
        f"{result['speed-up vs committed']:.2f}x | |"
    )
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
