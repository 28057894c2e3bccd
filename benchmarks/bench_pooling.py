"""Task-aware node embeddings at frozen-encoder cost: a trainable pooling head against frozen mean pooling.

For each variant (``frozen``: the encoder's cached mean-pooled vectors, the Table 1 features;
``attention``: :class:`mgl.encoders.pooling_head.AttentionPooling` over the cached final token
states, trained jointly with the model; more with ``--variant NAME=section.field=value,...``),
target and seed, on Webis-CLS-10 books with the Table 1 protocol and the ``amazon`` preset's
full schedule, it trains and tests:

* MGL (and its graph: the mean self-weight of query rows and the share of their weight that
  crosses languages, over test episodes);
* Mix, tuned over the baselines' 8-point grid on validation, with the head trained in the
  same way;
* the pooled logistic regression on the frozen vectors (the fixed reference; ``frozen`` only).

Every run is written to ``<out folder>/pooling_runs/`` as it finishes and skipped on a re-run
(resumable). The token states are computed once into ``MGL_HOME/prefix-states`` (``--prepare``
does only that, with every thread, so that parallel runs read them). Prints a Markdown table;
writes JSON.

    export MGL_DATA=../shared/data
    python benchmarks/bench_pooling.py --targets ja,fr --seeds 3 --prepare
    for t in ja fr; do OMP_NUM_THREADS=1 python benchmarks/bench_pooling.py --targets $t --seeds 3 --threads 1 --quiet & done; wait
    python benchmarks/bench_pooling.py --targets ja,fr --seeds 3 --quiet   # the combined table (trains nothing new)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from _common import add_common_options, claim_out, fit_and_measure, mgl_test_sampler, require_mgl_data, write_out

VARIANTS = {
    "frozen": [],
    "attention": ["encoder.pooling_head=attention", "encoder.pooling_queries=4", "encoder.pooling_lr=1e-3"],
}
SOURCES = {"ja": ["en", "fr", "de"], "fr": ["en", "ja", "de"], "de": ["en", "fr", "ja"]}


def parse_variants(names: str, extra: list[str]) -> dict[str, list[str]]:
    variants = dict(VARIANTS)
    for item in extra:
        name, _, settings = item.partition("=")
        variants[name] = [s for s in settings.split(",") if s]
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in variants]
    if unknown:
        raise SystemExit(f"bench_pooling: unknown variant(s) {unknown}; known: {sorted(variants)}")
    return {n: variants[n] for n in chosen}


def stage_costs(metrics: dict) -> tuple[float, int]:
    """Seconds and steps of a method's training stages (for a tuned baseline: every grid point)."""
    seconds, steps = 0.0, 0
    for stage in metrics.get("stages", []):
        seconds += stage.get("seconds", 0.0)
        candidates = stage.get("candidates") or []
        if candidates:  # the winner's steps per round, times every point's rounds
            per_round = stage["steps"] / max(stage["rounds"], 1)
            steps += round(per_round * sum(c["rounds"] for c in candidates))
        else:
            steps += stage.get("steps", 0)
    return seconds, steps


def run_one(variant: str, overrides: list[str], target: str, seed: int, method: str, args, root: Path) -> dict:
    import torch

    from mgl.config import load_config
    from mgl.data.preparation import prepare_data
    from mgl.encoders.featurizer import build_features, make_encoder
    from mgl.methods.mgl.queries import plan_episodes
    from mgl.model.graph_map import query_row_weights

    cfg = load_config(
        "amazon",
        None,
        [
            f"data.root={root}",
            "data.domain=books",
            f"data.target={target}",
            f"data.sources={','.join(SOURCES[target])}",
            *overrides,
            *args.overrides,
        ],
    ).validate()
    data = prepare_data(cfg.data, seed)
    encoder = make_encoder(cfg.encoder)
    t0 = time.perf_counter()
    features, _ = build_features(data, cfg.encoder, encoder=encoder, progress=not args.quiet)
    prepare_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    record = {"variant": variant, "overrides": overrides, "target": target, "seed": seed, "method": method}
    if method == "mgl":
        metrics, fitted = fit_and_measure(
            "mgl", data, features, cfg, seed=seed, device=encoder.device, progress=not args.quiet
        )
        model = fitted.head_.model
        test = data.table.rows(languages=target, split="test")[: 10 * cfg.mgl.n_query]
        plan = plan_episodes(
            mgl_test_sampler(data, cfg.mgl),
            test,
            n_query=cfg.mgl.n_query,
            eval_times=2,
            rng=np.random.default_rng(seed),
        )
        record["graph"] = query_row_weights(
            model, features, [ep for _, eps in plan for ep in eps], data.table.languages
        )
        record["validation_accuracy"] = metrics["stages"][-1]["best_accuracy"]
    elif method == "mix":
        metrics, _ = fit_and_measure(
            "mix",
            data,
            features,
            cfg,
            seed=seed,
            device=encoder.device,
            progress=not args.quiet,
        )
        record["validation_accuracy"] = metrics["stages"][-1]["best_accuracy"]
    elif method == "logreg-pooled":
        metrics, _ = fit_and_measure(method, data, features, cfg, seed=seed)
        record["validation_accuracy"] = metrics.get("val_accuracy")
    else:
        raise SystemExit(f"bench_pooling: unknown method {method!r}")
    seconds, steps = stage_costs(metrics)
    record.update(
        accuracy=metrics["accuracy"],
        n_test=metrics["n_test"],
        wall_seconds=time.perf_counter() - t1,
        prepare_seconds=prepare_seconds,
        stage_seconds=seconds,
        steps=steps,
        seconds_per_step=seconds / steps if steps else None,
        threads=torch.get_num_threads(),
        stages=[
            {k: s.get(k) for k in ("name", "rounds", "steps", "best_round", "best_accuracy", "seconds", "lr")}
            for s in metrics.get("stages", [])
        ],
        finished=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    return record


def prepare(variants: dict, targets: list[str], seeds: int, args, root: Path) -> None:
    """Compute every variant's features once (embeddings or token states), training nothing."""
    from mgl.config import load_config
    from mgl.data.preparation import prepare_data
    from mgl.encoders.featurizer import build_features, make_encoder

    for variant, overrides in variants.items():
        for target in targets:
            cfg = load_config(
                "amazon",
                None,
                [
                    f"data.root={root}",
                    "data.domain=books",
                    f"data.target={target}",
                    f"data.sources={','.join(SOURCES[target])}",
                    *overrides,
                    *args.overrides,
                ],
            ).validate()
            t0 = time.perf_counter()
            build_features(
                prepare_data(cfg.data, 0), cfg.encoder, encoder=make_encoder(cfg.encoder), progress=not args.quiet
            )
            print(f"prepared {variant} {target}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def table(records: list[dict], variants: list[str], targets: list[str]) -> str:
    def cell(rs, key="accuracy", scale=100.0, fmt="{:.2f}"):
        vals = [r[key] for r in rs if r.get(key) is not None]
        return fmt.format(scale * float(np.mean(vals))) if vals else "-"

    lines = [
        "| method | features | "
        + " | ".join(t.upper() for t in targets)
        + " | mean | val (mean) | s / step | wall s / run | query self-weight | cross-language share |",
        "|---|---|" + "---:|" * (len(targets) + 6),
    ]
    for method in ("logreg-pooled", "mgl", "mix"):
        for variant in variants:
            rs = [r for r in records if r["method"] == method and r["variant"] == variant]
            if not rs:
                continue
            per = [cell([r for r in rs if r["target"] == t]) for t in targets]
            graph = [r["graph"] for r in rs if r.get("graph")]
            lines.append(
                f"| {method} | {variant} | "
                + " | ".join(per)
                + f" | {cell(rs)} | {cell(rs, 'validation_accuracy')} | "
                + cell(rs, "seconds_per_step", 1.0, "{:.4f}")
                + " | "
                + cell(rs, "wall_seconds", 1.0, "{:.0f}")
                + " | "
                + (f"{np.mean([g['self'] for g in graph]):.4f}" if graph else "-")
                + " | "
                + (f"{np.mean([g['cross_language'] for g in graph]):.4f}" if graph else "-")
                + " |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="ja,fr")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", default="frozen,attention")
    parser.add_argument(
        "--variant",
        dest="extra_variants",
        action="append",
        default=[],
        help="NAME=section.field=value,... : another variant.",
    )
    parser.add_argument("--methods", default="logreg-pooled,mgl,mix")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run (default: torch's).")
    parser.add_argument("--prepare", action="store_true", help="Only compute the features of every variant, then stop.")
    add_common_options(parser, "benchmarks/out/pooling.json")
    args = parser.parse_args(argv)
    claim_out(args.out)
    data_root = require_mgl_data("bench_pooling")
    if data_root is None:
        return 2
    import torch

    from mgl.io import write_json_atomic

    if args.threads:
        torch.set_num_threads(args.threads)
    root = data_root / "cls-acl10-unprocessed"
    variants = parse_variants(args.variants, args.extra_variants)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.prepare:
        prepare(variants, targets, args.seeds, args, root)
        return 0
    runs = Path(args.out).parent / "pooling_runs"
    runs.mkdir(parents=True, exist_ok=True)
    records = []
    for variant, overrides in variants.items():
        for target in targets:
            for seed in range(args.seeds):
                for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
                    if method == "logreg-pooled" and variant != "frozen":
                        continue  # the fixed reference stays on the frozen vectors
                    path = runs / f"{variant}-{target}-{seed}-{method}.json"
                    if path.exists():
                        records.append(json.loads(path.read_text()))
                        continue
                    record = run_one(variant, overrides, target, seed, method, args, root)
                    write_json_atomic(path, record)
                    records.append(record)
                    print(
                        f"{variant} {target} seed {seed} {method}: test {record['accuracy']:.4f} "
                        f"val {record['validation_accuracy']} wall {record['wall_seconds']:.0f} s",
                        file=sys.stderr,
                    )
    write_out(
        args.out,
        {"variants": variants, "targets": targets, "seeds": args.seeds, "overrides": args.overrides, "runs": records},
    )
    print(table(records, list(variants), targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
