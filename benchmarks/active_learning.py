"""Active learning in simulation: from 0 target labels to 100, 10 at a time, each strategy against random.

For each target and seed: the target's training rows are the unlabelled pool (SIB-200: 701
sentences; Webis-CLS-10: the 1600 training reviews the 1600/400 split leaves), nothing of the target
is labelled at first. Each round the method is trained on the sources' labelled rows and the
target's labels acquired so far, scores the target's test rows, and the strategy
(:func:`mgl.model.suggestion.choose`, the product's one chooser) picks the next 10 texts of the pool,
whose gold labels are then revealed. Model selection (C) uses the sources' validation rows only, as
zero-shot does: the simulated user labels nothing but what is suggested. C is chosen from the
product's grid at round 0 and kept for the later rounds (the sources' rows, which the validation
rows judge, are the same in every round; refitting the grid each round cost 9x the time).

The method retrained each round is ``logreg-pooled`` through the product's own fit
(:func:`mgl.methods.logistic.fit_logistic_regression`, its C grid), not the
default ensemble: the ensemble takes about 100 s a fit here, and 31 fits per (target, seed) over 18 of
them would take some 15 hours on 2 cores. On SIB-200 at 10% labels logreg-pooled is within 0.6 points
of the ensemble (docs/results/sib200.md). Round 0 (no label) is shared by every strategy.

Every (target, seed, strategy) curve is one JSON file under ``--cells`` (a re-run skips it:
resumable); the summary (mean curves, labels each strategy needs to reach what 70 random labels
give) goes to ``--out`` with a Markdown table and a PNG plot.

    MGL_DATA=../shared/data python benchmarks/active_learning.py --data sib-200 \\
        --targets yor_Latn,hau_Latn,bod_Tibt,khm_Khmr,amh_Ethi,quy_Latn --seeds 3 \\
        --cells docs/results/raw/active-learning/sib200 --out docs/results/raw/active_learning_sib200.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from _common import require_mgl_data, write_out
from mgl.config import LOGISTIC_CS, DataConfig, EncoderConfig
from mgl.data.preparation import prepare_data
from mgl.encoders.featurizer import build_features
from mgl.io import write_text_atomic
from mgl.methods.logistic import fit_logistic_regression
from mgl.model.suggestion import STRATEGIES, choose

STEP, LAST, PARITY_AT = 10, 100, 70


def experiment(args, target: str):
    """The experiment's data with every target training row in the table, and its features."""
    data_cfg = DataConfig(
        name=args.data,
        root=str(args.root),
        domain=args.domain,
        sources=args.sources.split(","),
        target=target,
        target_fraction=1.0,
    )
    data_cfg.validate()
    data = prepare_data(data_cfg, 0)
    features, _ = build_features(data, EncoderConfig(), progress=False)
    return data, features.embeddings.cpu().numpy()


def curve(data, x: np.ndarray, strategy: str, seed: int, first: dict | None) -> dict:
    t = data.table
    src_train = t.rows(languages=data.sources, split="train")
    src_val = t.rows(languages=data.sources, split="validation")
    pool = t.rows(languages=data.target, split="train")
    test = t.rows(languages=data.target, split="test")
    labelled: list[int] = []
    points, seconds = [], 0.0
    for n in range(0, LAST + 1, STEP):
        if n == 0 and first is not None:  # no label yet: the same model for every strategy
            points.append(first["points"][0])
            probs_pool = np.asarray(first["pool_probs"])
        else:
            t0 = time.perf_counter()
            train = np.concatenate([src_train, np.asarray(labelled, dtype=np.int64)])
            cs = [first["points"][0]["C"]] if first is not None else LOGISTIC_CS  # C chosen once, at round 0
            fit = fit_logistic_regression(x[train], t.labels[train], x[src_val], t.labels[src_val], Cs=cs, seed=seed)
            seconds += time.perf_counter() - t0
            acc = float((fit.model.predict(x[test]) == t.labels[test]).mean())
            points.append({"labels": n, "accuracy": acc, "C": fit.C})
            probs_pool = fit.model.predict_proba(x[pool])
        if n == LAST:
            break
        if n == 0 and first is None:
            first = {"points": [points[0]], "pool_probs": probs_pool.tolist()}
        free = np.array([i for i, r in enumerate(pool) if r not in set(labelled)])
        picked = choose(probs_pool[free], x[pool[free]], STEP, strategy=strategy, seed=seed * 1000 + n)
        labelled += [int(pool[free[i]]) for i in picked]
    return {"points": points, "fit_seconds": seconds, "first": first}


def parity(mean_curve: list[tuple[int, float]], goal: float) -> float | None:
    """The labels at which a mean curve first reaches ``goal`` (linear between rounds), None if never."""
    for (n0, a0), (n1, a1) in itertools.pairwise(mean_curve):
        if a0 >= goal:
            return float(n0)
        if a1 >= goal:
            return n0 + (goal - a0) / (a1 - a0) * (n1 - n0)
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="sib-200")
    p.add_argument("--domain", default=None)
    p.add_argument("--sources", default="eng_Latn,fra_Latn,zho_Hans,arb_Arab")
    p.add_argument("--targets", required=True)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--strategies", default="random,margin,entropy,diverse")
    p.add_argument("--cells", type=Path, required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    root = require_mgl_data("active_learning.py")
    if root is None:
        return 2
    args.root = root / ("cls-acl10-unprocessed" if args.data == "webis-cls-10" else args.data)
    strategies = args.strategies.split(",")
    for s in strategies:
        if s not in STRATEGIES:
            print(f"error: unknown strategy {s!r}", file=sys.stderr)
            return 2
    args.cells.mkdir(parents=True, exist_ok=True)
    for target in args.targets.split(","):
        data = x = None
        for seed in range(args.seeds):
            first = None
            for strategy in strategies:
                path = args.cells / f"{target}__{args.domain or 'all'}__seed{seed}__{strategy}.json"
                if path.exists():
                    kept = json.loads(path.read_text()).get("first") or {}
                    first = first or (kept if "pool_probs" in kept else None)  # else round 0 is fitted again
                    continue
                if data is None:
                    data, x = experiment(args, target)
                result = curve(data, x, strategy, seed, first)
                first = result.pop("first")
                cell = {"target": data.target, "domain": args.domain, "seed": seed, "strategy": strategy, **result,
                        "first": first}  # fmt: skip
                write_text_atomic(path, json.dumps(cell) + "\n")
                last = result["points"][-1]["accuracy"]
                print(f"{target} seed {seed} {strategy}: {result['points'][0]['accuracy']:.3f} -> {last:.3f} "
                      f"({result['fit_seconds']:.0f} s)", flush=True)  # fmt: skip
    slim(args.cells, strategies)
    summarise(args, strategies)
    return 0


def slim(cells: Path, strategies: list[str]) -> None:
    """Once every strategy of a (target, seed) is done, its cells drop round 0's pool probabilities
    (kept only so that an interrupted run resumes the other strategies from the same round 0)."""
    for path in sorted(cells.glob("*.json")):
        cell = json.loads(path.read_text())
        prefix = path.name.rsplit("__", 1)[0]
        if "pool_probs" in (cell.get("first") or {}) and all(
            (cells / f"{prefix}__{s}.json").exists() for s in strategies
        ):
            cell["first"] = {"points": cell["first"]["points"]}
            write_text_atomic(path, json.dumps(cell) + "\n")


def summarise(args, strategies: list[str]) -> None:
    cells = [json.loads(f.read_text()) for f in sorted(args.cells.glob("*.json"))]
    for c in cells:
        c.pop("first", None)
    by = {s: [c for c in cells if c["strategy"] == s] for s in strategies}
    mean = {
        s: [
            (pt["labels"], float(np.mean([c["points"][k]["accuracy"] for c in cs])))
            for k, pt in enumerate(cs[0]["points"])
        ]
        for s, cs in by.items()
        if cs
    }
    goal = dict(mean["random"])[PARITY_AT] if "random" in mean else None
    needs = {s: parity(curve_, goal) for s, curve_ in mean.items()} if goal is not None else {}
    result = {
        "data": args.data,
        "domain": args.domain,
        "targets": sorted({c["target"] for c in cells}),
        "seeds": sorted({c["seed"] for c in cells}),
        "method": "logreg-pooled",
        "mean_curves": {s: [{"labels": n, "accuracy": a} for n, a in m] for s, m in mean.items()},
        "random_at_70": goal,
        "labels_to_reach_random_at_70": needs,
        "cells": len(cells),
        "fit_seconds_mean": float(np.mean([c["fit_seconds"] for c in cells])) if cells else None,
    }
    out = write_out(args.out, result)
    lines = [
        f"| labels | {' | '.join(mean)} |",
        "|---:|" + "---:|" * len(mean),
    ]
    for k in range(len(next(iter(mean.values())))):
        n = next(iter(mean.values()))[k][0]
        lines.append(f"| {n} | " + " | ".join(f"{100 * m[k][1]:.1f}" for m in mean.values()) + " |")
    lines += ["", f"Labels each strategy needs to reach what {PARITY_AT} random labels give ({100 * goal:.1f}): "
              + ", ".join(f"{s} {'-' if v is None else f'{v:.0f}'}" for s, v in needs.items()) + "."]  # fmt: skip
    write_text_atomic(out.with_suffix(".md"), "\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for s, m in mean.items():
        ax.plot([n for n, _ in m], [100 * a for _, a in m], marker="o", label=s)
    ax.set_xlabel("target labels acquired")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{args.data}{' ' + args.domain if args.domain else ''}: {len(result['targets'])} target(s) x "
                 f"{len(result['seeds'])} seed(s), logreg-pooled")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)
    print(f"wrote {out} (+ .md, .png)")


if __name__ == "__main__":
    sys.exit(main())
