"""SIB-200 with the encoder trained end to end (the paper's regime) beside the frozen encoder.

Sources eng_Latn, fra_Latn, zho_Hans, arb_Arab (their whole training split), each target keeping
a stratified 10% of its training labels (drawn per seed, the same rows for every method), its dev
split as validation (model selection and early stopping), its test split as test. Methods: MGL and
the two strongest trainable baselines on the frozen SIB-200 runs (Mix, Reptile), each with the
encoder frozen (``encoder.train=none``) and trained whole (``encoder.train=all``, encoder lr from
the configuration, bf16 autocast where the device has it), through the grid's one fit-and-score
path (:class:`mgl.grid.CellRunner`). Every cell's record (accuracy, macro-F1, validation accuracy,
seconds) is appended to ``OUT/cells.jsonl`` as it finishes; a rerun skips finished cells. No new
cell starts after ``--budget`` seconds, so a run on a lent GPU returns what it finished.

    MGL_DATA=../shared/data python benchmarks/sib200_encoder.py --out benchmarks/out/sib200_encoder \\
        --targets yor_Latn,hau_Latn --seeds 0 --budget 600
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _common import require_mgl_data

SOURCES = ("eng_Latn", "fra_Latn", "zho_Hans", "arb_Arab")
TARGETS = ("yor_Latn", "hau_Latn", "tir_Ethi", "quy_Latn", "khm_Khmr", "npi_Deva")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/sib200_encoder"))
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="mgl,mix,reptile")
    parser.add_argument("--modes", default="none,all", help="encoder.train values, in order")
    parser.add_argument("--max-rounds", type=int, default=10, help="most rounds per stage (every method)")
    parser.add_argument("--budget", type=float, default=540.0, help="seconds after which no new cell starts")
    parser.add_argument(
        "--baseline-grid",
        default="full",
        choices=["full", "one"],
        help="where the encoder trains: full, the baselines' 8 tuning points (each fine-tunes the "
        "whole encoder), or one (lr 3e-4, no weight decay); a frozen encoder always has full",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    data_root = require_mgl_data("sib200_encoder")
    if data_root is None:
        return 2
    import torch

    from mgl.config import load_config
    from mgl.data.languages import canonical_language
    from mgl.grid import CellRunner, Experiment
    from mgl.provenance import machine_info

    t_start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    cells_path = args.out / "cells.jsonl"
    done = set()
    if cells_path.exists():
        for line in cells_path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            done.add((rec["encoder_train"], rec["target"], rec["seed"], rec["method"]))
    sources = tuple(canonical_language(s) for s in SOURCES)
    targets = [canonical_language(t) for t in args.targets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    cuda = torch.cuda.is_available()
    timing: dict[str, list[float]] = {}
    for seed in seeds:
        for mode in args.modes.split(","):
            overrides = [
                "data.name=sib-200",
                f"data.root={data_root / 'sib-200'}",
                "data.target_fraction=0.1",
                f"encoder.train={mode}",
                "encoder.max_length=128",
                f"mgl.max_rounds={args.max_rounds}",
                *args.overrides,
            ]
            if mode != "none":
                overrides.append("encoder.precision=auto")
            if args.baseline_grid == "one" and mode != "none":
                overrides += ["baselines.lrs=[3e-4]", "baselines.weight_decays=[0.0]"]
            cfg = load_config(None, None, overrides)
            runner = CellRunner(cfg, progress=not args.quiet)
            for target in targets:
                todo = [m for m in methods if (mode, target, seed, m) not in done]
                if not todo:
                    continue
                if time.perf_counter() - t_start > args.budget:
                    print(
                        f"budget of {args.budget:.0f} s spent: stopping before {mode}/{target}/seed {seed}",
                        file=sys.stderr,
                        flush=True,
                    )
                    return _summary(args.out, cells_path, timing)
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                for method, record in runner.run_group(Experiment(target, None, sources), seed, todo):
                    row = {
                        k: record[k]
                        for k in (
                            "method",
                            "target",
                            "seed",
                            "accuracy",
                            "f1",
                            "f1_averaging",
                            "val_accuracy",
                            "n_test",
                            "n_train_target",
                            "train_seconds",
                            "seconds",
                            "embed_seconds",
                            "encoder",
                            "encoder_train",
                        )
                    }
                    row["stages"] = [
                        {k: s.get(k) for k in ("name", "rounds", "best_round", "steps")}
                        for s in record["details"].get("stages", [])
                    ]
                    row["peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
                    row["device"] = torch.cuda.get_device_name(0) if cuda else "cpu"
                    row["baseline_grid"] = args.baseline_grid if mode != "none" else "full"
                    row["max_rounds"] = args.max_rounds
                    with open(cells_path, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(row) + "\n")
                    timing.setdefault(f"{mode}/{method}", []).append(record["train_seconds"])
                    print(
                        f"{mode:4s} {target:4s} seed {seed} {method:8s} acc {row['accuracy']:.4f} "
                        f"F1 {row['f1']:.4f} val {row['val_accuracy']:.4f} {record['train_seconds']:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
            runner = None
    (args.out / "machine.json").write_text(json.dumps(machine_info(), indent=1))
    return _summary(args.out, cells_path, timing)


def _summary(out: Path, cells_path: Path, timing: dict) -> int:
    rows = (
        [json.loads(line) for line in cells_path.read_text(encoding="utf-8").splitlines()]
        if cells_path.exists()
        else []
    )
    table: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        table.setdefault((r["encoder_train"], r["method"]), []).append(r)
    print("| encoder | method | cells | accuracy | macro-F1 | train s per run |")
    print("|---|---|---:|---:|---:|---:|")
    summary = {}
    for (mode, method), cells in sorted(table.items()):
        acc = sum(c["accuracy"] for c in cells) / len(cells)
        f1 = sum(c["f1"] for c in cells) / len(cells)
        sec = sum(c["train_seconds"] for c in cells) / len(cells)
        summary[f"{mode}/{method}"] = {"cells": len(cells), "accuracy": acc, "f1": f1, "train_seconds": sec}
        print(f"| {mode} | {method} | {len(cells)} | {100 * acc:.1f} | {100 * f1:.1f} | {sec:.1f} |")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
