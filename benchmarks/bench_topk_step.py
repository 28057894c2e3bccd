"""Seconds per MGL step when the encoder's top k layers train over cached states: float32 against bf16 autocast.

One experiment (default EN+FR+DE -> JA books, ``amazon`` preset, seed 0; ``--per-class`` rows
per class, language and split, since the step's cost depends on the episode, not on the data
size). For each k and precision, the states entering layer L - k are cached (once; fp32 and
bf16 share them: they come from the frozen float32 layers), then MGL's meta-test stage
(:class:`mgl.methods.mgl.training.MGLTrainee`) trains ``--steps`` steps after ``--warmup`` steps, and one
validation pass runs. With ``precision=bf16`` the k layers run under bfloat16 autocast over their
float32 master weights (:meth:`mgl.encoders.TextEncoder.run_layers`). Writes JSON, prints a table.

    MGL_DATA=../shared/data python benchmarks/bench_topk_step.py --ks 1,2
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from _common import add_common_options, claim_out, require_mgl_data, write_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="ja")
    parser.add_argument("--sources", default="en,fr,de")
    parser.add_argument("--ks", default="1,2")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    add_common_options(parser, "benchmarks/out/topk_step.json")
    args = parser.parse_args(argv)
    claim_out(args.out)
    data_root = require_mgl_data("bench_topk_step")
    if data_root is None:
        return 2
    import torch

    from mgl.config import load_config
    from mgl.data.preparation import prepare_data
    from mgl.encoders.featurizer import build_features, make_encoder
    from mgl.methods.mgl.training import MGLTrainee, build_model, meta_test_tasks
    from mgl.methods.validation_rows import validation_rows
    from mgl.provenance import machine_info

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for k in [int(x) for x in args.ks.split(",")]:
        for precision in args.precisions.split(","):
            cfg = load_config(
                "amazon",
                None,
                [
                    f"data.root={data_root / 'cls-acl10-unprocessed'}",
                    "data.domain=books",
                    f"data.target={args.target}",
                    f"data.sources={args.sources}",
                    f"data.max_per_class={args.per_class}",
                    "encoder.train=top-k",
                    f"encoder.top_layers={k}",
                    f"encoder.precision={precision}",
                    *args.overrides,
                ],
            ).validate()
            data = prepare_data(cfg.data, 0)
            encoder = make_encoder(cfg.encoder)
            t0 = time.perf_counter()
            features, _ = build_features(data, cfg.encoder, encoder=encoder, progress=not args.quiet)
            prepare_s = time.perf_counter() - t0
            torch.manual_seed(0)
            model = build_model(cfg.mgl, features.dim, data.table.num_classes)
            sampler, val_task, _ = meta_test_tasks(
                data.table,
                data.sources,
                data.target,
                cfg.mgl,
                validation_rows(data.table, data.sources, data.target, cfg.mgl, 0),
            )
            trainee = MGLTrainee(model, features, [sampler], [val_task], cfg.mgl, seed=0, stage_id=1)
            active = np.array([0])
            losses = trainee.train_round(active, args.warmup, lambda n: None)
            t0 = time.perf_counter()
            losses = trainee.train_round(active, args.steps, lambda n: None)
            step_s = (time.perf_counter() - t0) / args.steps
            t0 = time.perf_counter()
            _acc, _ = trainee.validate(active)
            rows.append(
                {
                    "k": k,
                    "precision": encoder.precision,
                    "step_s": step_s,
                    "validation_s": time.perf_counter() - t0,
                    "validation_rows": len(val_task.query),
                    "loss": float(losses[0]),
                    "prepare_s": prepare_s,
                    "finite": bool(np.isfinite(losses).all()),
                }
            )
            print(f"k={k} {encoder.precision}: {step_s:.3f} s/step", file=sys.stderr)
    write_out(args.out, {"args": vars(args), "rows": rows, "machine": machine_info()})
    print("| k | precision | s / step | speed-up over fp32 | validation s (rows) | last loss |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        base = (
            next(x for x in rows if x["k"] == r["k"] and x["precision"] == "fp32")["step_s"]
            if any(x["k"] == r["k"] and x["precision"] == "fp32" for x in rows)
            else None
        )
        ratio = f"{base / r['step_s']:.2f}x" if base else "-"
        print(
            f"| {r['k']} | {r['precision']} | {r['step_s']:.3f} | {ratio} | {r['validation_s']:.1f} "
            f"({r['validation_rows']}) | {r['loss']:.4f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
