"""Choose MGL's open settings on validation data only, for one experiment.

Runs each candidate setting (a list of ``section.field=value`` overrides) for a few seeds on
EN+FR+DE -> JA books (by default; ``--data paws-x`` for PAWS-X pairs) with frozen embeddings from the cache, and ranks them by
the mean *validation* accuracy of the meta-test stage (the target's validation split, the data
MGL early-stops on). Test accuracy is recorded beside it for the report, never used to choose.

    MGL_DATA=../shared/data python benchmarks/tune_mgl.py --seeds 0,1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from _common import add_common_options, claim_out, fit_and_measure, require_mgl_data, write_out

CANDIDATES: dict[str, list[str]] = {
    "defaults": [],
    "lr 3e-3": ["mgl.lr=3e-3"],
    "lr 1e-3": ["mgl.lr=1e-3"],
    "lr 3e-4": ["mgl.lr=3e-4"],
    "lr 1e-4": ["mgl.lr=1e-4"],
    "lr 3e-4, weight decay 1e-3": ["mgl.lr=3e-4", "mgl.weight_decay=1e-3"],
    "distance scale dim": ["mgl.distance_scale=dim"],
    "label features": ["mgl.label_features=true"],
    "label features, lr 3e-4": ["mgl.label_features=true", "mgl.lr=3e-4"],
    "K 20": ["mgl.k_neighbours=20"],
    "K 10": ["mgl.k_neighbours=10"],
    "K 10, lr 1e-3": ["mgl.k_neighbours=10", "mgl.lr=1e-3"],
    "K 10, lr 1e-3, patience 10": ["mgl.k_neighbours=10", "mgl.lr=1e-3", "mgl.patience=10"],
    "patience 10": ["mgl.patience=10"],
    "lr 3e-5": ["mgl.lr=3e-5"],
    "sigma fixed to 1": ["mgl.learn_sigma=false"],
    "sigma fixed to 1, label features": ["mgl.learn_sigma=false", "mgl.label_features=true"],
    "label features (lr 1e-4)": ["mgl.label_features=true"],
    "label features, lr 1e-4": ["mgl.label_features=true", "mgl.lr=1e-4"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--data", default="webis-cls-10", help="webis-cls-10 or paws-x (under MGL_DATA).")
    parser.add_argument("--preset", default=None, help="Default: amazon (webis-cls-10), search-relevance (paws-x).")
    parser.add_argument("--domain", default="books")
    parser.add_argument("--sources", default="en,fr,de")
    parser.add_argument("--target", default="ja")
    parser.add_argument("--only", default=None, help="Semicolon-separated candidate names to run.")
    add_common_options(parser, "benchmarks/out/tune_mgl.json", quiet=False)  # --set: applied to every candidate
    args = parser.parse_args(argv)
    claim_out(args.out)
    data_root = require_mgl_data("tune_mgl")
    if data_root is None:
        return 2

    from mgl.config import load_config
    from mgl.data.preparation import prepare_data
    from mgl.encoders.featurizer import build_features, make_encoder

    seeds = [int(s) for s in args.seeds.split(",")]
    if args.data == "paws-x":
        preset = args.preset or "search-relevance"
        base = [f"data.root={Path(data_root) / 'paws-x'}"]
    else:
        preset = args.preset or "amazon"
        base = [f"data.root={Path(data_root) / 'cls-acl10-unprocessed'}", f"data.domain={args.domain}"]
    base += [f"data.sources={args.sources}", f"data.target={args.target}"]
    cfg0 = load_config(preset, None, base)
    encoder = make_encoder(cfg0.encoder)
    cache = {}
    rows = []
    names = [n.strip() for n in args.only.split(";")] if args.only else list(CANDIDATES)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        print(f"unknown candidate(s) {unknown}; known: {list(CANDIDATES)}", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    for name in names:
        for seed in seeds:
            cfg = load_config(preset, None, base + args.overrides + CANDIDATES[name]).validate()
            if seed not in cache:
                data = prepare_data(cfg.data, seed)
                features, _ = build_features(data, cfg.encoder, encoder=encoder, progress=False)
                cache[seed] = (data, features)
            data, features = cache[seed]
            metrics, _ = fit_and_measure("mgl", data, features, cfg, seed=seed, device=encoder.device)
            stages = metrics["stages"]
            rows.append(
                {
                    "candidate": name,
                    "seed": seed,
                    "val_accuracy": stages[-1]["best_accuracy"],
                    "val_nll": stages[-1]["best_nll"],
                    "test_accuracy": metrics["accuracy"],
                    "train_seconds": metrics["train_seconds"],
                    "rounds": [s["rounds"] for s in stages],
                    "best_rounds": [s["best_round"] for s in stages],
                }
            )
            print(
                f"{name:<32} seed {seed}: val {rows[-1]['val_accuracy']:.4f} test {metrics['accuracy']:.4f} "
                f"({metrics['train_seconds']:.0f} s, rounds {rows[-1]['rounds']})",
                file=sys.stderr,
                flush=True,
            )
    summary = []
    for name in names:
        r = [x for x in rows if x["candidate"] == name]
        summary.append(
            {
                "candidate": name,
                "overrides": CANDIDATES[name],
                "val_mean": float(np.mean([x["val_accuracy"] for x in r])),
                "val_nll_mean": float(np.mean([x["val_nll"] for x in r])),
                "test_mean": float(np.mean([x["test_accuracy"] for x in r])),
                "train_seconds_mean": float(np.mean([x["train_seconds"] for x in r])),
            }
        )
    summary.sort(key=lambda s: (-s["val_mean"], s["val_nll_mean"]))
    write_out(
        args.out,
        {
            "data": args.data,
            "preset": preset,
            "target": args.target,
            "sources": args.sources,
            "overrides": args.overrides,
            "seeds": seeds,
            "summary": summary,
            "runs": rows,
            "wall_seconds": time.perf_counter() - t_start,
        },
    )
    print(f"\n{'candidate':<32}{'val acc':>10}{'val nll':>10}{'test acc':>10}{'train s':>10}   (ranked by validation)")
    for s in summary:
        print(
            f"{s['candidate']:<32}{s['val_mean'] * 100:>10.2f}{s['val_nll_mean']:>10.4f}{s['test_mean'] * 100:>10.2f}"
            f"{s['train_seconds_mean']:>10.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
