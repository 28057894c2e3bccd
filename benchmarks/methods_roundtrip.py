"""Every method as a model on real data: train on one Table 1 experiment (default EN+FR+DE -> JA
books, seed 0), save, load in a new process, predict the target's test split.

For each method it reports the largest absolute difference between the probabilities before
saving and after loading in a fresh process (both calibrated; the same cached bf16 embeddings),
the test accuracy of the loaded model, and that method's grid cell for the same seed
(``--grid``: a finished ``mgl experiment table1`` folder scored through the one scorer), whose
accuracy must be the same number. JSON + a printed table.

    python benchmarks/methods_roundtrip.py --grid runs/table1-ensemble --out docs/results/raw/methods_roundtrip.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import add_common_options, claim_out, require_mgl_data, write_out

METHODS = [
    "mgl",
    "target-only",
    "mix",
    "multi-task",
    "fine-tune",
    "reptile",
    "logreg-target",
    "logreg-pooled",
    "ensemble",
]

LOAD = """
import json, sys, numpy as np
from mgl import Classifier
from mgl.encoders import EmbeddingCache
texts = json.load(open(sys.argv[1]))
for d in sys.argv[2:]:
    clf = Classifier.from_pretrained(d)
    clf.embedding_cache = EmbeddingCache()
    np.save(d + '.after.npy', clf.predict_proba(texts))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="ja")
    parser.add_argument("--domain", default="books")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--grid", help="A finished table1 grid folder to compare the accuracies with.")
    parser.add_argument("--models", help="Where to save the models (default: a temporary folder).")
    add_common_options(parser, "benchmarks/out/methods_roundtrip.json")
    args = parser.parse_args()
    claim_out(args.out)
    data_root = require_mgl_data("methods_roundtrip.py")
    if data_root is None:
        return 2
    from mgl.config import load_config
    from mgl.data.preparation import prepare_data
    from mgl.encoders import EmbeddingCache
    from mgl.model.classifier import Classifier
    from mgl.provenance import machine_info

    sources = [lang for lang in ("en", "fr", "de", "ja") if lang != args.target]
    models = Path(args.models or tempfile.mkdtemp(prefix="mgl-roundtrip-"))
    rows = []
    for method in args.methods.split(","):
        cfg = load_config(
            "amazon",
            None,
            [
                f"data.root={data_root / 'cls-acl10-unprocessed'}",
                f"data.domain={args.domain}",
                f"data.target={args.target}",
                f"data.sources={','.join(sources)}",
                f"seed={args.seed}",
                f"method={method}",
                *args.overrides,
            ],
        ).validate()
        data = prepare_data(cfg.data, args.seed)
        t0 = time.perf_counter()
        clf = Classifier(cfg).fit_data(data, progress=not args.quiet)
        seconds = time.perf_counter() - t0
        clf.embedding_cache = EmbeddingCache()
        test = data.table.rows(languages=args.target, split="test")
        texts = [data.examples[i].text for i in test]
        before = clf.predict_proba(texts)
        directory = clf.save_pretrained(models / method)
        (models / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        np.save(str(directory) + ".before.npy", before)
        rows.append(
            {
                "method": method,
                "dir": str(directory),
                "train_seconds": round(seconds, 1),
                "report_accuracy": clf.report["accuracy"],
                "labels": data.table.labels[test].tolist(),
            }
        )
        print(
            f"{method}: trained in {seconds:.0f} s, accuracy {clf.report['accuracy']:.4f}", file=sys.stderr, flush=True
        )
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(models / "texts.json"), *[r["dir"] for r in rows]],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    out = []
    for r in rows:
        before, after = np.load(r["dir"] + ".before.npy"), np.load(r["dir"] + ".after.npy")
        labels = np.asarray(r.pop("labels"))
        cell = None
        if args.grid:
            path = Path(args.grid) / "cells" / f"{r['method']}__{args.target}__{args.domain}__seed{args.seed}.json"
            cell = json.loads(path.read_text())["accuracy"] if path.is_file() else None
        out.append(
            {
                **r,
                "max_abs_diff": float(np.abs(before - after).max()),
                "loaded_accuracy": float((after.argmax(1) == labels).mean()),
                "grid_cell_accuracy": cell,
            }
        )
    result = {
        "experiment": f"{'+'.join(sources)} -> {args.target} {args.domain}",
        "seed": args.seed,
        "rows": out,
        "machine": machine_info(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_out(args.out, result)
    print("| method | max abs diff after loading | loaded accuracy | grid cell accuracy | same |")
    print("|---|---:|---:|---:|---|")
    for r in out:
        cell = r["grid_cell_accuracy"]
        same = "-" if cell is None else ("yes" if abs(cell - r["loaded_accuracy"]) < 1e-12 else "NO")
        print(
            f"| {r['method']} | {r['max_abs_diff']:.2e} | {r['loaded_accuracy'] * 100:.2f} | "
            f"{'-' if cell is None else f'{cell * 100:.2f}'} | {same} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
