"""Seconds per training step on frozen vectors against a trainable pooling head over cached token states.

One experiment (default EN+FR+DE -> JA books, the ``amazon`` preset, seed 0). Its features
are built twice: the frozen encoder's cached mean-pooled vectors, and an
:class:`~mgl.encoders.pooling_head.AttentionPooling` head over the cached final token states
(computed once into ``MGL_HOME/prefix-states``). Then, in this process, back to back and
``--repeats`` times alternating, it times ``--steps`` training steps of:

* MGL's meta-test stage (:class:`mgl.methods.mgl.training.MGLTrainee`: an episode's nodes through the
  features, the meta graph, the GCN, Adam);
* Mix (:class:`mgl.methods.baselines.tuning.SingleTrainee` at one grid point: a minibatch of 32);

and one validation pass of each. Reports the median seconds per step and the ratio head /
frozen. Writes JSON and prints a table.

    MGL_DATA=../shared/data python benchmarks/bench_head_step.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from _common import add_common_options, claim_out, require_mgl_data, write_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="ja")
    parser.add_argument("--sources", default="en,fr,de")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--queries", type=int, default=4)
    add_common_options(parser, "benchmarks/out/head_step.json")
    args = parser.parse_args(argv)
    claim_out(args.out)
    data_root = require_mgl_data("bench_head_step")
    if data_root is None:
        return 2
    import torch

    from mgl.config import load_config
    from mgl.data.preparation import prepare_data
    from mgl.encoders.featurizer import build_features, make_encoder
    from mgl.methods.baselines import make_context
    from mgl.methods.baselines.common import Hyper, pooled_steps
    from mgl.methods.baselines.tuning import SingleTrainee
    from mgl.methods.mgl.training import MGLTrainee, build_model, meta_test_tasks
    from mgl.methods.validation_rows import validation_rows
    from mgl.provenance import machine_info

    torch.set_num_threads(args.threads)
    base = [
        f"data.root={data_root / 'cls-acl10-unprocessed'}",
        "data.domain=books",
        f"data.target={args.target}",
        f"data.sources={args.sources}",
        *args.overrides,
    ]
    variants = {
        "frozen": [],
        "attention": ["encoder.pooling_head=attention", f"encoder.pooling_queries={args.queries}"],
    }
    built = {}
    for name, extra in variants.items():
        cfg = load_config("amazon", None, [*base, *extra]).validate()
        data = prepare_data(cfg.data, 0)
        features, _ = build_features(data, cfg.encoder, encoder=make_encoder(cfg.encoder), progress=not args.quiet)
        built[name] = (cfg, data, features)

    def trainees(name):
        cfg, data, features = built[name]
        table = data.table
        torch.manual_seed(0)
        model = build_model(cfg.mgl, features.dim, table.num_classes)
        sampler, val_task, _ = meta_test_tasks(
            table, data.sources, data.target, cfg.mgl, validation_rows(table, data.sources, data.target, cfg.mgl, 0)
        )
        mgl = MGLTrainee(model, features, [sampler], [val_task], cfg.mgl, seed=0, stage_id=1)
        ctx = make_context(data, features, cfg.mgl, seed=0)
        rows = ctx.train_rows([*ctx.sources, ctx.target])
        mix = SingleTrainee(
            ctx.classifier(),
            features,
            pooled_steps(rows)(ctx.settings),
            ctx.target_validation,
            table.labels,
            ctx.settings,
            Hyper(1e-3, 0.0),
            rng=np.random.default_rng(0),
        )
        return {"mgl": mgl, "mix": mix}

    timings: dict[tuple[str, str, str], list[float]] = {}
    made = {name: trainees(name) for name in variants}
    active = np.array([0])
    for _ in range(args.repeats):
        for method in ("mgl", "mix"):
            for name in variants:
                trainee = made[name][method]
                t0 = time.perf_counter()
                trainee.train_round(active, args.steps, lambda n: None)
                timings.setdefault((method, name, "step"), []).append((time.perf_counter() - t0) / args.steps)
                t0 = time.perf_counter()
                trainee.validate(active)
                timings.setdefault((method, name, "validation"), []).append(time.perf_counter() - t0)
    rows = []
    for method in ("mgl", "mix"):
        frozen = statistics.median(timings[(method, "frozen", "step")])
        head = statistics.median(timings[(method, "attention", "step")])
        vf = statistics.median(timings[(method, "frozen", "validation")])
        vh = statistics.median(timings[(method, "attention", "validation")])
        rows.append(
            {
                "method": method,
                "frozen_step_s": frozen,
                "head_step_s": head,
                "step_ratio": head / frozen,
                "frozen_validation_s": vf,
                "head_validation_s": vh,
                "validation_ratio": vh / vf,
            }
        )
    write_out(
        args.out,
        {
            "args": vars(args),
            "rows": rows,
            "machine": machine_info(),
            "timings": {"/".join(k): v for k, v in timings.items()},
        },
    )
    print("| method | frozen s / step | head s / step | ratio | frozen validation s | head validation s | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['method']} | {r['frozen_step_s']:.4f} | {r['head_step_s']:.4f} | {r['step_ratio']:.2f}x | "
            f"{r['frozen_validation_s']:.2f} | {r['head_validation_s']:.2f} | {r['validation_ratio']:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
