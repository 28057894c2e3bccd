"""The GPU path, checked once: EN+FR+DE -> JA books with the whole encoder trained (the paper's configuration).

MGL and Mix, seed 0, ``--encoder-train all`` at the preset's encoder learning rate (1e-5, Table
4), bf16 autocast where the GPU has it (``encoder.precision=auto``), on a shortened schedule so
that the check finishes in under 10 minutes on one GPU: at most ``--max-rounds`` rounds per
stage (default 6 of the preset's 50) and Mix's tuning grid cut to one point (lr 3e-4, no weight
decay). It reports, per method, the test accuracy, the training seconds, the seconds per
optimisation step and the peak GPU memory, and writes JSON. Numbers from it are a check of the
path (device placement, mixed precision, memory), not a result for the tables.

    MGL_DATA=/path/to/data python benchmarks/gpu_check.py --out benchmarks/out/gpu.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import add_common_options, claim_out, require_mgl_data, write_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rounds", type=int, default=6)
    parser.add_argument("--methods", default="mgl,mix")
    parser.add_argument(
        "--device", default=None, help="default: CUDA when present (the check refuses a CPU unless --allow-cpu)"
    )
    parser.add_argument("--allow-cpu", action="store_true", help="run on a CPU anyway (slow; to test the script)")
    add_common_options(parser, "benchmarks/out/gpu.json")
    args = parser.parse_args(argv)
    claim_out(args.out)
    data_root = require_mgl_data("gpu_check")
    if data_root is None:
        return 2
    import torch

    from mgl.config import load_config
    from mgl.grid import CellRunner, Experiment
    from mgl.provenance import machine_info

    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        print("gpu_check: no CUDA device here (give --allow-cpu to run the check on a CPU anyway)", file=sys.stderr)
        return 2
    overrides = [
        f"data.root={data_root / 'cls-acl10-unprocessed'}",
        "encoder.train=all",
        "encoder.precision=auto",
        f"mgl.max_rounds={args.max_rounds}",
        *(["encoder.device=" + args.device] if args.device else []),
        *args.overrides,
    ]
    cfg = load_config("amazon", overrides=["baselines.lrs=[3e-4]", "baselines.weight_decays=[0.0]", *overrides])
    runner = CellRunner(cfg, progress=not args.quiet)
    experiment = Experiment("ja", "books", ("en", "fr", "de"))
    rows = {}
    t_all = time.perf_counter()
    for method in args.methods.split(","):
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        [(_, record)] = list(runner.run_group(experiment, 0, [method]))
        steps = sum(s["steps"] for s in record["details"]["stages"])
        rows[method] = {
            "accuracy": record["accuracy"],
            "train_seconds": record["train_seconds"],
            "steps": steps,
            "seconds_per_step": record["train_seconds"] / max(steps, 1),
            "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
            "encoder": record["encoder"],
            "stages": [
                {k: s[k] for k in ("name", "rounds", "best_round", "best_accuracy")}
                for s in record["details"]["stages"]
            ],
        }
        print(
            f"{method}: accuracy {record['accuracy']:.4f}, {record['train_seconds']:.1f} s, {steps} steps, "
            f"{rows[method]['seconds_per_step'] * 1000:.1f} ms/step, peak "
            f"{rows[method]['peak_gpu_memory_gib'] or 0:.2f} GiB",
            file=sys.stderr,
            flush=True,
        )
    result = {
        "check": "gpu",
        "experiment": "en,fr,de -> ja books, seed 0",
        "encoder_train": "all",
        "encoder_lr": cfg.mgl.encoder_lr,
        "max_rounds": args.max_rounds,
        "methods": rows,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "wall_seconds": time.perf_counter() - t_all,
        "machine": machine_info(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_out(out, result)
    print("| method | accuracy | train s | steps | ms/step | peak GPU GiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for m, r in rows.items():
        print(
            f"| {m} | {r['accuracy']:.4f} | {r['train_seconds']:.1f} | {r['steps']} | {r['seconds_per_step'] * 1000:.1f} "
            f"| {r['peak_gpu_memory_gib'] or 0:.2f} |"
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
