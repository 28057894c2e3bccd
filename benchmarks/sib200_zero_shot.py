"""SIB-200 at 0% target labels: the default ensemble and its members, with and without centring, 16 targets.

Zero-shot, a model never reads its target: the sources' training rows train it and the sources'
validation rows choose its settings (:mod:`mgl.data.preparation`), so for one seed the trained members
are the same whatever the target. This script trains them once per seed (through the product's one
fit-and-score path, :func:`mgl.methods.scoring.fit_and_score`, on the first target's data) and scores
every target's 204 test sentences with the fitted heads (:func:`mgl.methods.scoring.split_probabilities`),
instead of the grid's one training per (target, seed). ``--check GRID`` compares the cells with
``mgl experiment compare ... --set data.target_fraction=0`` cells where both exist: they must agree
exactly.

``encoder.centring=language``: each language's mean vector is taken from its vectors; the sources'
means do not depend on the target, the target's comes from its 701 training sentences read without
their labels (``data.rest_unlabelled``), so the centred members are trained once per seed too. The
character n-gram member reads texts, not vectors: centring leaves it unchanged.

    MGL_DATA=../shared/data python benchmarks/sib200_zero_shot.py --seeds 3 \\
        --cells docs/results/raw/sib200-zeroshot-all --check docs/results/raw/sib200-zeroshot \\
        --out docs/results/raw/sib200_zero_shot.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from _common import require_mgl_data, write_out
from mgl.config import CENTRING_MODES, load_config
from mgl.data.preparation import prepare_data
from mgl.encoders.featurizer import build_features
from mgl.io import atomic_open, write_text_atomic
from mgl.methods.heads.ensemble import mean_probabilities
from mgl.methods.metrics import split_metrics
from mgl.methods.scoring import fit_and_score, split_probabilities

TARGETS = (
    "yor_Latn,hau_Latn,tir_Ethi,quy_Latn,khm_Khmr,npi_Deva,amh_Ethi,ayr_Latn,bod_Tibt,wol_Latn,ibo_Latn,kin_Latn,"
    "ace_Arab,kat_Geor,mya_Mymr,tel_Telu"
)
SOURCES = "eng_Latn,fra_Latn,zho_Hans,arb_Arab"


def config(root: Path, target: str, centring: str, seed: int):
    return load_config(
        "amazon",
        None,
        [
            "data.name=sib-200",
            f"data.root={root}",
            f"data.sources={SOURCES}",
            f"data.target={target}",
            "data.target_fraction=0",
            "data.rest_unlabelled=true",
            f"encoder.centring={centring}",
            f"seed={seed}",
        ],
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", default=TARGETS)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--cells", type=Path, required=True)
    p.add_argument("--check", type=Path, default=None, help="A zero-shot grid whose cells must agree.")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    data_root = require_mgl_data("sib200_zero_shot.py")
    if data_root is None:
        return 2
    root = data_root / "sib-200"
    targets = args.targets.split(",")
    args.cells.mkdir(parents=True, exist_ok=True)
    from mgl.encoders.featurizer import make_encoder

    encoder = None
    for centring in CENTRING_MODES:
        todo = [s for s in range(args.seeds) if not (args.cells / f"seed{s}__{centring}.json").exists()]
        if not todo:
            continue
        fitted, seconds = {}, {}
        for seed in todo:
            cfg = config(root, targets[0], centring, seed)
            encoder = encoder or make_encoder(cfg.encoder)
            data = prepare_data(cfg.data, seed)
            features, _ = build_features(data, cfg.encoder, encoder=encoder, progress=False)
            t0 = time.perf_counter()
            fitted[seed] = fit_and_score("ensemble", data, features, cfg, seed=seed).method
            seconds[seed] = time.perf_counter() - t0
        cells: dict[int, list] = {seed: [] for seed in todo}
        test_probs: dict[int, dict[str, np.ndarray]] = {seed: {} for seed in todo}
        for target in targets:
            tcfg = config(root, target, centring, 0)
            tdata = prepare_data(tcfg.data, 0)  # zero-shot: the same rows for every seed
            tfeatures, _ = build_features(tdata, tcfg.encoder, encoder=encoder, progress=False)
            for seed in todo:
                probs = split_probabilities(fitted[seed], tdata, tfeatures)
                for name, p_ in probs.items():
                    m = split_metrics(tdata, p_)
                    cells[seed].append(
                        {
                            "target": tdata.target,
                            "method": name,
                            "seed": seed,
                            "centring": centring,
                            "accuracy": m["accuracy"],
                            "macro_f1": m["macro_f1"],
                            "n_test": m["n_test"],
                            "unlabelled_texts": len(tdata.unlabelled_rows),
                        }
                    )
                    test_probs[seed][f"{tdata.target}/{name}"] = np.asarray(p_["test"], dtype=np.float32)
            print(
                f"{centring} {tdata.target}: "
                + ", ".join(
                    f"seed {s} ensemble {next(c['accuracy'] for c in cells[s] if c['method'] == 'ensemble' and c['target'] == tdata.target):.3f}"
                    for s in todo
                ),
                flush=True,
            )
        for seed in todo:  # the probabilities first, so a cell file always has its probabilities
            with atomic_open(args.cells / f"seed{seed}__{centring}.probs.npz", "wb", encoding=None) as fh:
                np.savez_compressed(fh, allow_pickle=False, **test_probs[seed])
            write_text_atomic(
                args.cells / f"seed{seed}__{centring}.json",
                json.dumps({"train_seconds": seconds[seed], "cells": cells[seed]}) + "\n",
            )
    return summarise(args, data_root)


def summarise(args, data_root: Path) -> int:
    from mgl.data.languages import canonical_language

    cells, stored = [], {}
    for f in sorted(args.cells.glob("*.json")):
        cells += json.loads(f.read_text())["cells"]
        with np.load(f.with_suffix(".probs.npz")) as npz:
            stored[f.stem] = {key: npz[key] for key in npz.files}
    # the ensemble without its character n-gram member (the README's second column), from the stored probabilities
    labels = {}
    for target in sorted({c["target"] for c in cells}):
        data = prepare_data(config(data_root / "sib-200", target, "none", 0).data, 0)
        labels[target] = data.table.labels[data.table.rows(languages=data.target, split="test")]
    three = ("mgl", "mix", "logreg-pooled")
    for target, seed, centring in sorted({(c["target"], c["seed"], c["centring"]) for c in cells}):
        probs = mean_probabilities([stored[f"seed{seed}__{centring}"][f"{target}/{m}"] for m in three])
        cells.append({"target": target, "method": "ensemble-3", "seed": seed, "centring": centring,
                      "accuracy": float((probs.argmax(1) == labels[target]).mean())})  # fmt: skip
    mismatches = []
    if args.check is not None:
        for f in sorted((args.check / "cells").glob("*.json")):
            grid = json.loads(f.read_text())
            mine = [
                c
                for c in cells
                if c["centring"] == "none"
                and (c["target"], c["method"], c["seed"]) == (grid["target"], grid["method"], grid["seed"])
            ]
            if mine and abs(mine[0]["accuracy"] - grid["accuracy"]) > 1e-12:
                mismatches.append((grid["target"], grid["method"], grid["seed"], grid["accuracy"], mine[0]["accuracy"]))
    reference = {}
    with open(data_root / "sib-200" / "REFERENCE.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            reference[canonical_language(row["code"])] = row
    methods = ["ensemble", "ensemble-3", "mgl", "mix", "logreg-pooled", "logreg-chars"]
    table = {}
    for c in cells:
        table.setdefault((c["target"], c["method"], c["centring"]), []).append(c["accuracy"])
    targets = sorted(
        {c["target"] for c in cells}, key=lambda t: (reference.get(t, {}).get("in_xlmr_pretraining", ""), t)
    )
    rows = []
    for t in targets:
        ref = reference.get(t, {})
        rows.append({
            "target": t,
            "seen_by_xlmr": ref.get("in_xlmr_pretraining"),
            **{f"{m}/{c}": 100 * float(np.mean(table[(t, m, c)])) for m in methods for c in CENTRING_MODES if (t, m, c) in table},
            "xlmr_large_transfer_from_eng": float(ref["xlmr_large_transfer_from_eng"]) if ref else None,
        })  # fmt: skip
    seeds = sorted({c["seed"] for c in cells})
    result = {
        "targets": targets,
        "seeds": seeds,
        "rows": rows,
        "check": {"grid": str(args.check), "mismatches": mismatches} if args.check else None,
        "train_seconds": [json.loads(f.read_text())["train_seconds"] for f in sorted(args.cells.glob("*.json"))],
    }
    out = write_out(args.out, result)
    cols = [f"{m}/{c}" for m in methods for c in CENTRING_MODES]
    lines = [
        "| Target | XLM-R | " + " | ".join(cols) + " | XLM-R L transfer (en) |",
        "|---|---|" + "---:|" * (len(cols) + 1),
    ]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['seen_by_xlmr']} | "
            + " | ".join(f"{r[c]:.1f}" for c in cols)
            + f" | {r['xlmr_large_transfer_from_eng']} |"
        )
    for group, keep in (
        ("all", lambda r: True),
        ("seen by XLM-R", lambda r: r["seen_by_xlmr"] == "yes"),
        ("unseen", lambda r: r["seen_by_xlmr"] == "no"),
    ):
        sel = [r for r in rows if keep(r)]
        lines.append(
            f"| **{group}** ({len(sel)}) | | "
            + " | ".join(f"{np.mean([r[c] for r in sel]):.1f}" for c in cols)
            + f" | {np.mean([r['xlmr_large_transfer_from_eng'] for r in sel]):.1f} |"
        )
    write_text_atomic(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print(f"wrote {out} (+ .md); {len(seeds)} seed(s); grid check: {len(mismatches)} mismatch(es)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
