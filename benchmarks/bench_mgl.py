"""MGL over several seeds on one cross-lingual experiment, beside logistic-regression references.

Default: EN+FR+DE -> JA on Webis-CLS-10 books (the pair the paper tuned on), the ``amazon``
preset, the embedded multilingual-e5-small encoder frozen, 5 seeds. For each seed (which also
draws the target's 10% labels) it trains and tests MGL, and on the *same frozen embeddings*
and the same splits:

* ``logreg-target``: a logistic regression on the target's few labelled reviews alone;
* ``logreg-pooled``: a logistic regression on every language's labelled training data pooled
  (the sources' training splits and the target's few labels).

Both choose C on the target's validation split, as MGL early-stops on it. Writes a JSON
result (every run, plus mean and standard deviation per method) and prints a table.

    MGL_DATA=../shared/data python benchmarks/bench_mgl.py --seeds 5
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from _common import add_common_options, claim_out, fit_and_measure, require_mgl_data, write_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="amazon")
    parser.add_argument("--domain", default="books")
    parser.add_argument("--sources", default="en,fr,de")
    parser.add_argument("--target", default="ja")
    parser.add_argument("--seeds", type=int, default=5)
    add_common_options(parser, "benchmarks/out/mgl.json")
    args = parser.parse_args(argv)
    claim_out(args.out)

    data_root = require_mgl_data("bench_mgl")
    if data_root is None:
        return 2

    from mgl.config import load_config
    from mgl.data.preparation import positive_index, prepare_data
    from mgl.encoders.featurizer import build_features, make_encoder
    from mgl.methods.logistic import fit_logistic_regression
    from mgl.methods.metrics import classification_metrics

    overrides = [
        f"data.root={Path(data_root) / 'cls-acl10-unprocessed'}",
        f"data.domain={args.domain}",
        f"data.sources={args.sources}",
        f"data.target={args.target}",
        *args.overrides,
    ]
    cfg = load_config(args.preset, None, overrides).validate()
    t_start = time.perf_counter()
    encoder = make_encoder(cfg.encoder)
    runs = []
    for seed in range(args.seeds):
        data = prepare_data(cfg.data, seed)
        t0 = time.perf_counter()
        features, _ = build_features(data, cfg.encoder, encoder=encoder, progress=not args.quiet)
        embed_s = time.perf_counter() - t0
        metrics, _ = fit_and_measure(
            "mgl", data, features, cfg, seed=seed, device=encoder.device, progress=not args.quiet
        )
        runs.append(
            {
                "method": "mgl",
                "seed": seed,
                "embed_seconds": embed_s,
                **{k: metrics[k] for k in ("accuracy", "precision", "recall", "f1", "n_test", "train_seconds")},
                "best_rounds": [s["best_round"] for s in metrics["stages"]],
                "val_accuracy": [s["best_accuracy"] for s in metrics["stages"]],
            }
        )
        X = features.embeddings.cpu().numpy()
        t = data.table
        y = t.labels
        pos = positive_index(t.label_names)
        val = t.rows(languages=data.target, split="validation")
        test = t.rows(languages=data.target, split="test")
        for name, train_langs in (("logreg-target", [data.target]), ("logreg-pooled", [*data.sources, data.target])):
            tr = t.rows(languages=train_langs, split="train")
            t1 = time.perf_counter()
            fit = fit_logistic_regression(X[tr], y[tr], X[val], y[val], seed=seed)
            m = classification_metrics(y[test], fit.model.predict(X[test]), t.num_classes, pos)
            runs.append(
                {
                    "method": name,
                    "seed": seed,
                    "C": fit.C,
                    "n_train": len(tr),
                    "train_seconds": time.perf_counter() - t1,
                    "n_test": len(test),
                    **{k: m[k] for k in ("accuracy", "precision", "recall", "f1")},
                }
            )
        print(
            f"seed {seed}: " + ", ".join(f"{r['method']} {r['accuracy']:.4f}" for r in runs if r["seed"] == seed),
            file=sys.stderr,
        )
    wall = time.perf_counter() - t_start
    summary = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        accs = np.array([r["accuracy"] for r in runs if r["method"] == method])
        f1s = np.array([r["f1"] for r in runs if r["method"] == method])
        secs = np.array([r["train_seconds"] for r in runs if r["method"] == method])
        summary[method] = {
            "accuracy_mean": float(accs.mean()),
            "accuracy_std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
            "f1_mean": float(f1s.mean()),
            "train_seconds_mean": float(secs.mean()),
            "n": len(accs),
        }
    result = {
        "benchmark": "bench_mgl",
        "experiment": f"{'+'.join(cfg.data.sources)} -> {cfg.data.target} ({cfg.data.domain})",
        "preset": args.preset,
        "overrides": args.overrides,
        "seeds": args.seeds,
        "encoder": encoder.identity,
        "config": cfg.to_dict(),
        "wall_seconds": wall,
        "summary": summary,
        "runs": runs,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    write_out(args.out, result)
    print(f"\n{result['experiment']}, {args.seeds} seeds, encoder {cfg.encoder.model} (frozen), wall {wall:.0f} s")
    print(f"{'method':<16}{'accuracy':>20}{'F1':>10}{'train s':>10}")
    for method, s in summary.items():
        print(
            f"{method:<16}{s['accuracy_mean'] * 100:>12.2f} ± {s['accuracy_std'] * 100:<5.2f}"
            f"{s['f1_mean'] * 100:>10.2f}{s['train_seconds_mean']:>10.1f}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
