"""Task-aware encoder adaptation on CPU: MGL and Mix with the encoder frozen or its top k layers trained.

For each target (default JA and FR, Webis-CLS-10 books, the other three languages as sources)
and seed, on the same data, splits and validation rows, in one process:

* ``logreg-pooled``: logistic regression on the frozen embeddings of every language's labels
  pooled (C chosen on the target's validation split);
* ``mgl`` / ``mix`` with the encoder frozen (``k=0``);
* ``mgl`` / ``mix`` with the encoder's top ``k`` layers trained jointly (``--ks``, default 1,2),
  at ``mgl.encoder_lr`` (1e-5, the paper's), over lower-layer token states cached on disk
  (:mod:`mgl.encoders.prefix_states`).

Every run uses the same sequence length (``--max-length``, default 128: the states are cached
at that length) so that the frozen and adapted runs differ only in the training of the top
layers; the frozen vectors are the same encoder's output at that length (computed from the
cached states). MGL's episode settings (``--set``) are the same for frozen and adapted MGL;
Mix chooses its learning rate and weight decay on validation from ``--mix-lrs`` x
``--mix-wds`` for both (a smaller grid than the tables' default, as every point costs a full
adapted training).

Reports test accuracy, seconds per training episode/step (the stages' training time divided
by their steps, validation included) and wall seconds per run, and the prefix cache's size on
disk. Writes a JSON result and a Markdown table; prints the table. Each run's record is also
written as it finishes (``<out stem>_runs/``); a re-run with the same settings skips finished
runs, so an interrupted benchmark resumes.

    MGL_DATA=../shared/data python benchmarks/bench_adaptation.py --targets ja,fr --seeds 2 --ks 1,2
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from _common import add_common_options, claim_out, fit_and_measure, require_mgl_data, write_out


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _steps(metrics: dict) -> int:
    return int(sum(s.get("steps", 0) for s in metrics.get("stages", [])))


def _stage_seconds(metrics: dict) -> float:
    return float(sum(s.get("seconds", 0.0) for s in metrics.get("stages", [])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="ja,fr")
    parser.add_argument("--domain", default="books")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--ks", default="1,2", help="Top-layer counts to train (0 = frozen is always run).")
    parser.add_argument("--methods", default="mgl,mix")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--mix-lrs", default="3e-4,1e-3")
    parser.add_argument("--mix-wds", default="0")
    parser.add_argument("--threads", type=int, default=None, help="Torch threads (default: torch's).")
    add_common_options(parser, "benchmarks/out/adaptation.json")
    args = parser.parse_args(argv)
    claim_out(args.out)

    data_root = require_mgl_data("bench_adaptation")
    if data_root is None:
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)

    import hashlib
    import json

    from mgl.config import BaselineConfig, load_config
    from mgl.data.preparation import prepare_data
    from mgl.encoders.featurizer import make_encoder
    from mgl.encoders.node_features import FrozenFeatures, PrefixFeatures
    from mgl.encoders.prefix_states import PrefixStateStore, compute_prefix_states
    from mgl.io import write_json_atomic, write_text_atomic

    ks = sorted({int(k) for k in _split(args.ks)})
    settings = {
        "max_length": args.max_length,
        "overrides": args.overrides,
        "mix_lrs": args.mix_lrs,
        "mix_wds": args.mix_wds,
        "domain": args.domain,
    }
    fingerprint = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    run_dir = Path(args.out).with_name(Path(args.out).stem + "_runs")
    run_dir.mkdir(parents=True, exist_ok=True)

    def done(target: str, seed: int, method: str, k: int) -> dict | None:
        path = run_dir / f"{target}_{seed}_{method}_k{k}.json"
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("fingerprint") == fingerprint:
                return saved
        return None

    methods = _split(args.methods)
    mix_options = BaselineConfig(
        lrs=[float(x) for x in _split(args.mix_lrs)], weight_decays=[float(x) for x in _split(args.mix_wds)]
    ).validate()
    t_start = time.perf_counter()
    base = load_config(
        "amazon",
        None,
        [
            f"data.root={Path(data_root) / 'cls-acl10-unprocessed'}",
            f"data.domain={args.domain}",
            f"encoder.max_length={args.max_length}",
            *args.overrides,
        ],
    ).validate()
    encoder = make_encoder(base.encoder)
    original = {k: v.clone() for k, v in encoder.model.state_dict().items()}
    n_layers = encoder.num_layers
    deepest = max(ks) if ks else 1
    runs: list[dict] = []
    stores: dict[int, object] = {}
    frozen_memo: dict[tuple, np.ndarray] = {}
    prefix_seconds = 0.0

    for target in _split(args.targets):
        sources = [lang for lang in ("en", "fr", "de", "ja") if lang != target]
        cfg = copy.deepcopy(base)
        cfg.data.target, cfg.data.sources = target, sources
        cfg.validate()
        for seed in range(args.seeds):
            wanted = [("logreg-pooled", 0)] + [(m, k) for k in [0, *ks] for m in methods]
            saved = [done(target, seed, m, k) for m, k in wanted]
            if all(saved):
                runs.extend(saved)
                continue
            data = prepare_data(cfg.data, seed)
            encoder.model.load_state_dict(original)
            encoder.set_trainable("top-k", deepest)
            # the states below the deepest top-k, then each shallower k derived from them
            t0 = time.perf_counter()
            locations: dict[int, list] = {}
            lower = None
            for k in sorted({deepest, *ks}, reverse=True):
                frozen_layers = n_layers - k
                store, locs = compute_prefix_states(
                    encoder,
                    data.texts,
                    data.pairs,
                    frozen_layers,
                    batch_size=cfg.encoder.batch_size,
                    progress=not args.quiet,
                    lower=lower,
                )
                stores[k], locations[k] = store, locs
                lower = (store, locs, frozen_layers)
            # frozen vectors at the same length: the untrained top layers over the cached states
            probe = PrefixFeatures(encoder, stores[deepest], locations[deepest], batch_size=cfg.encoder.batch_size)
            probe.eval()
            keys = [(loc.shard, loc.start) for loc in locations[deepest]]
            todo = [i for i, key in enumerate(keys) if key not in frozen_memo]
            with torch.no_grad():
                for start in range(0, len(todo), 512):
                    part = todo[start : start + 512]
                    for i, vector in zip(part, probe(np.array(part)).cpu().numpy()):
                        frozen_memo[keys[i]] = vector
            frozen = FrozenFeatures(np.stack([frozen_memo[key] for key in keys]))
            prefix_seconds += time.perf_counter() - t0

            def record(method: str, k: int, metrics: dict, seconds: float, target=target, seed=seed) -> None:
                steps = _steps(metrics)
                row = {
                    "target": target,
                    "seed": seed,
                    "method": method,
                    "k": k,
                    **{m: metrics[m] for m in ("accuracy", "precision", "recall", "f1")},
                    "train_seconds": metrics["train_seconds"],
                    "wall_seconds": seconds,
                    "steps": steps,
                    "seconds_per_step": _stage_seconds(metrics) / steps if steps else None,
                    "stages": [
                        {
                            kk: s.get(kk)
                            for kk in (
                                "name",
                                "rounds",
                                "steps",
                                "best_round",
                                "best_accuracy",
                                "seconds",
                                "lr",
                                "weight_decay",
                            )
                        }
                        for s in metrics.get("stages", [])
                    ],
                }
                row["fingerprint"] = fingerprint
                runs.append(row)
                write_json_atomic(run_dir / f"{target}_{seed}_{method}_k{k}.json", row)
                print(
                    f"{target} seed {seed} {method} k={k}: accuracy {row['accuracy']:.4f}, "
                    f"{seconds:.0f} s, {row['seconds_per_step'] or 0:.2f} s/step",
                    file=sys.stderr,
                    flush=True,
                )

            t1 = time.perf_counter()
            if saved[0]:
                runs.append(saved[0])
            else:
                record(
                    "logreg-pooled",
                    0,
                    fit_and_measure("logreg-pooled", data, frozen, cfg, seed=seed)[0],
                    time.perf_counter() - t1,
                )
            for k in [0, *ks]:
                for method in methods:
                    previous = done(target, seed, method, k)
                    if previous:
                        runs.append(previous)
                        continue
                    encoder.model.load_state_dict(original)
                    if k == 0:
                        features = frozen
                    else:
                        encoder.set_trainable("top-k", k)
                        features = PrefixFeatures(encoder, stores[k], locations[k], batch_size=cfg.encoder.batch_size)
                    t1 = time.perf_counter()
                    if method == "mgl":
                        metrics, _ = fit_and_measure(
                            "mgl", data, features, cfg, seed=seed, device=encoder.device, progress=not args.quiet
                        )
                    else:
                        metrics, _ = fit_and_measure(
                            method,
                            data,
                            features,
                            dataclasses.replace(cfg, baselines=mix_options),
                            seed=seed,
                            device=encoder.device,
                            progress=not args.quiet,
                        )
                    record(method, k, metrics, time.perf_counter() - t1)
    encoder.model.load_state_dict(original)
    wall = time.perf_counter() - t_start
    runs_wall = sum(r["wall_seconds"] for r in runs)
    for k in {deepest, *ks} - set(stores):  # every run was already saved: size the caches all the same
        stores[k] = PrefixStateStore.for_encoder(encoder, n_layers - k)

    summary: dict[str, dict] = {}
    for method, k in dict.fromkeys((r["method"], r["k"]) for r in runs):
        rows = [r for r in runs if r["method"] == method and r["k"] == k]
        name = f"{method} k={k}" if method != "logreg-pooled" else method
        entry = {
            "method": method,
            "k": k,
            "n": len(rows),
            "accuracy_mean": float(np.mean([r["accuracy"] for r in rows])),
            "wall_seconds_mean": float(np.mean([r["wall_seconds"] for r in rows])),
        }
        for target in dict.fromkeys(r["target"] for r in rows):
            entry[f"accuracy_{target}"] = float(np.mean([r["accuracy"] for r in rows if r["target"] == target]))
        per_step = [r["seconds_per_step"] for r in rows if r["seconds_per_step"]]
        entry["seconds_per_step_mean"] = float(np.mean(per_step)) if per_step else None
        summary[name] = entry
    cache_bytes = {str(k): int(store.size_bytes()) for k, store in stores.items()}
    cache_rows = {str(k): len(store) for k, store in stores.items()}
    result = {
        "benchmark": "bench_adaptation",
        "targets": _split(args.targets),
        "domain": args.domain,
        "seeds": args.seeds,
        "ks": ks,
        "methods": methods,
        "max_length": args.max_length,
        "fingerprint": fingerprint,
        "overrides": args.overrides,
        "mix_options": mix_options.to_dict(),
        "encoder": encoder.spec.to_dict(),
        "config": base.to_dict(),
        "wall_seconds": wall,
        "runs_wall_seconds": runs_wall,
        "prefix_seconds": prefix_seconds,
        "cache_bytes": cache_bytes,
        "cache_texts": cache_rows,
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
    targets = _split(args.targets)
    lines = [
        f"| method | encoder | {' | '.join(t.upper() for t in targets)} | mean | s / step | wall s / run |",
        "|---|---|" + "---:|" * (len(targets) + 3),
    ]
    for e in summary.values():
        enc = "frozen" if e["k"] == 0 else f"top {e['k']} trained"
        accs = " | ".join(f"{e.get(f'accuracy_{t}', float('nan')) * 100:.2f}" for t in targets)
        sps = f"{e['seconds_per_step_mean']:.2f}" if e["seconds_per_step_mean"] else "-"
        lines.append(
            f"| {e['method']} | {enc} | {accs} | {e['accuracy_mean'] * 100:.2f} | {sps} | {e['wall_seconds_mean']:.0f} |"
        )
    table = "\n".join(lines)
    sizes = ", ".join(
        f"k={k}: {b / 1e6:.0f} MB for {cache_rows[k]} texts ({b / max(cache_rows[k], 1) / 1e3:.0f} KB/text)"
        for k, b in cache_bytes.items()
    )
    md = (
        f"{table}\n\nAccuracy (%) on the target's test split, mean of {args.seeds} seed(s); "
        f"sequence length {args.max_length}; this invocation's wall {wall:.0f} s ({prefix_seconds:.0f} s computing "
        f"prefix states and frozen vectors; runs saved by an earlier invocation are read back, not re-run); "
        f"the runs' own wall times sum to {runs_wall:.0f} s; prefix cache {sizes}.\n"
    )
    write_text_atomic(Path(args.out).with_suffix(".md"), md)
    print("\n" + md)
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
