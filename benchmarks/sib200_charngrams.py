"""Where the encoder does not know the language: a member that sees the target's surface forms.

Character n-gram TF-IDF features (``char_wb``, 1 to 4 characters, sublinear tf) with a logistic
regression on every language's labelled training rows (the sources' and the target's few), its C
chosen on the target's validation rows as the pooled regression's is: measured alone and inside
the ensemble, on the cells of a SIB-200 grid (``mgl experiment compare --data sib-200 ...``). For
each (target, seed) the script rebuilds the grid's own data (the same configuration, the same
seeded 10% of the target's labels, the same row order: checked by re-scoring the grid's pooled
regression from its saved probabilities), fits the n-gram model, and averages its probabilities
with the saved probabilities of the ensemble's members (MGL, Mix, LR pooled). Nothing here is a
product method yet: the numbers decide whether it becomes one.

    MGL_DATA=../shared/data python benchmarks/sib200_charngrams.py docs/results/raw/sib200 \\
        --out docs/results/raw/sib200_charngrams.json

Resumable: each finished (target, seed) is appended to ``OUT.partial.jsonl`` as it ends, and a
re-run of the same command skips the pairs found there (run it again to resume after a kill).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from _common import claim_out, require_mgl_data, write_out

MEMBERS = ("mgl", "mix", "logreg-pooled")
CS = (0.3, 1.0, 3.0, 10.0, 30.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/sib200_charngrams.json"))
    args = parser.parse_args(argv)
    claim_out(args.out)
    if require_mgl_data("sib200_charngrams") is None:
        return 2
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from mgl.config import RunConfig
    from mgl.data.preparation import prepare_data

    meta = json.loads((args.grid / "grid.json").read_text(encoding="utf-8"))
    RunConfig.from_dict(meta["config"])
    cells: dict[tuple[str, int], dict[str, dict]] = defaultdict(dict)
    for path in sorted((args.grid / "cells").glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        rec["_probs"] = path.with_name(path.stem + ".probs.npz")
        cells[(rec["target"], int(rec["seed"]))][rec["method"]] = rec
    partial = args.out.with_name(args.out.name + ".partial.jsonl")
    rows = [json.loads(line) for line in partial.read_text(encoding="utf-8").splitlines()] if partial.exists() else []
    if any(r.get("grid") != str(args.grid) for r in rows):
        raise SystemExit(f"{partial} holds pairs of another grid than {args.grid}; move it away to start afresh")
    done = {(r["target"], int(r["seed"])) for r in rows}
    for (target, seed), by_method in sorted(cells.items()):
        if not all(m in by_method for m in (*MEMBERS, "ensemble")) or (target, seed) in done:
            continue
        t0 = time.perf_counter()
        cfg = RunConfig.from_dict(meta["config"])
        cfg.data.target, cfg.data.sources = target, list(by_method["mgl"]["sources"])
        cfg.validate()
        data = prepare_data(cfg.data, seed)
        t = data.table
        train = t.rows(languages=[*data.sources, data.target], split="train")
        val, test = (t.rows(languages=data.target, split=s) for s in ("validation", "test"))
        texts = np.array(data.texts, dtype=object)
        saved = {m: np.load(by_method[m]["_probs"]) for m in MEMBERS}
        check = float((saved["logreg-pooled"]["test"].argmax(1) == t.labels[test]).mean())
        if abs(check - by_method["logreg-pooled"]["accuracy"]) > 1e-9:
            raise SystemExit(
                f"{target} seed {seed}: the rebuilt rows do not align with the grid's cells "
                f"({check} vs {by_method['logreg-pooled']['accuracy']})"
            )
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2, max_features=300_000)
        x_train = vec.fit_transform(texts[train])
        x_val, x_test = vec.transform(texts[val]), vec.transform(texts[test])
        best = None
        for C in CS:
            lr = LogisticRegression(C=C, max_iter=3000).fit(x_train, t.labels[train])
            acc = float((lr.predict(x_val) == t.labels[val]).mean())
            if best is None or acc > best[0]:
                best = (acc, C, lr)
        val_acc, C, lr = best

        def full(p, model, n_classes=t.num_classes):  # probabilities over every class, in the table's order
            out = np.zeros((p.shape[0], n_classes))
            out[:, model.classes_] = p
            return out

        ngram = {"validation": full(lr.predict_proba(x_val), lr), "test": full(lr.predict_proba(x_test), lr)}
        y_val, y_test = t.labels[val], t.labels[test]

        def score(probs, y_val=y_val, y_test=y_test, n_classes=t.num_classes):
            return {
                "accuracy": float((probs["test"].argmax(1) == y_test).mean()),
                "f1": float(
                    f1_score(
                        y_test, probs["test"].argmax(1), average="macro", labels=list(range(n_classes)), zero_division=0
                    )
                ),
                "val_accuracy": float((probs["validation"].argmax(1) == y_val).mean()),
            }

        mean = lambda members: {s: np.mean([m[s] for m in members], axis=0) for s in ("validation", "test")}
        variants = {
            "char-ngram LR": score(ngram),
            "ensemble (MGL, Mix, LR pooled)": score(mean([saved[m] for m in MEMBERS])),
            "ensemble + char-ngram LR": score(mean([*(saved[m] for m in MEMBERS), ngram])),
            "LR pooled + char-ngram LR": score(mean([saved["logreg-pooled"], ngram])),
        }
        ens_cell = by_method["ensemble"]["accuracy"]
        if abs(variants["ensemble (MGL, Mix, LR pooled)"]["accuracy"] - ens_cell) > 1e-6:
            print(
                f"note: {target} seed {seed}: the mean of the saved member probabilities scores "
                f"{variants['ensemble (MGL, Mix, LR pooled)']['accuracy']:.4f}, the ensemble cell {ens_cell:.4f}",
                file=sys.stderr,
            )
        row = {
            "grid": str(args.grid),
            "target": target,
            "seed": seed,
            "C": C,
            "ngram_val_accuracy": val_acc,
            "n_features": len(vec.vocabulary_),
            "seconds": time.perf_counter() - t0,
            "variants": variants,
        }
        rows.append(row)
        with partial.open("a", encoding="utf-8") as fh:  # the resume log: one finished pair per line
            fh.write(json.dumps(row) + "\n")
        print(
            f"{target} seed {seed}: "
            + ", ".join(f"{k} {100 * v['accuracy']:.1f}" for k, v in variants.items())
            + f" ({time.perf_counter() - t0:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    names = list(rows[0]["variants"]) if rows else []
    summary = {
        n: {k: float(np.mean([r["variants"][n][k] for r in rows])) for k in ("accuracy", "f1", "val_accuracy")}
        for n in names
    }
    rows.sort(key=lambda r: (r["target"], r["seed"]))
    write_out(
        args.out, {"grid": str(args.grid), "cs": CS, "rows": rows, "summary": summary, "n": len(rows), "cpu": _cpu()}
    )
    print("| variant | accuracy | macro-F1 | validation accuracy |")
    print("|---|---:|---:|---:|")
    for n, s in summary.items():
        print(f"| {n} | {100 * s['accuracy']:.1f} | {100 * s['f1']:.1f} | {100 * s['val_accuracy']:.1f} |")
    return 0


def _cpu() -> str:
    from mgl.provenance import cpu_model

    return cpu_model()


if __name__ == "__main__":
    sys.exit(main())
