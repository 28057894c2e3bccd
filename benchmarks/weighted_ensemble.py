r"""An ensemble that weighs its members, from a grid's stored cells: against the equal-weight mean.

The default ensemble averages its members' probabilities with equal weights. Here each member
:math:`m` gets the weight

.. math::

    w_m \propto \exp\bigl(\beta \, \bar\ell_m\bigr), \qquad
    \bar\ell_m = \frac{1}{|U|} \sum_{i \in U} \log p_m(y_i \mid x_i),

a temperature over the members' mean validation log-likelihood on rows :math:`U`, shrunk toward
equal weights by a small :math:`\beta` (:math:`\beta = 0` is the equal-weight mean). Which rows:

* ``unselected`` (honest): the target's validation rows that no member chose its model on (Table 1:
  80 of each experiment's 400; :func:`mgl.methods.validation_rows.validation_rows` gives the 320 the
  members chose on). :math:`\beta` is chosen by the default's rule, on those rows only: each
  experiment-seed's rows are cut in two halves, weights fitted on one half score the other, and the
  :math:`\beta` with the best mean held-out accuracy over the whole grid wins (ties: the smaller).
* ``selected`` (biased, labelled so): where no row is left unselected (SIB-200: each target's 99
  validation rows are all chosen on), the weights are fitted on the rows the members chose on; a
  member that fitted its own choice to them looks better there than it is, so these numbers only
  bound what weighting could give, and no default is chosen on them.

Test accuracy, per experiment and seed, of the weighted and the equal-weight ensembles (paired
t-test over the grid's experiment-seeds), nothing trained: every number comes from the stored
probabilities (the members' cells).

    MGL_DATA=../shared/data python benchmarks/weighted_ensemble.py docs/results/raw/table1-ensemble \\
        docs/results/raw/sib200 --out docs/results/raw/weighted_ensemble.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from _common import claim_out, require_mgl_data, write_out

MEMBERS = ("mgl", "mix", "logreg-pooled", "logreg-chars")
BETAS = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0)


def weights(val_probs: list[np.ndarray], labels: np.ndarray, beta: float) -> np.ndarray:
    """``softmax(beta * mean log-likelihood)`` over members (equal weights at ``beta = 0``)."""
    ll = np.array([np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1.0))) for p in val_probs])
    z = beta * (ll - ll.max())
    w = np.exp(z)
    return w / w.sum()


def mix(probs: list[np.ndarray], w: np.ndarray) -> np.ndarray:
    return np.tensordot(w, np.stack(probs), axes=1)


def groups(folder: Path, members: tuple[str, ...]):
    """Per (experiment, seed): the members' validation and test probabilities, the labels, and the
    mask of the validation rows no member chose on."""
    from mgl.config import RunConfig
    from mgl.data.preparation import prepare_data
    from mgl.grid import Cell, CellStore, Experiment
    from mgl.methods.validation_rows import validation_rows

    meta = json.loads((folder / "grid.json").read_text(encoding="utf-8"))
    store = CellStore(folder, meta["fingerprint"])
    for e in meta["experiments"]:
        experiment = Experiment(e["target"], e["domain"], tuple(e["sources"]))
        cfg = RunConfig.from_dict(meta["config"])
        cfg.data.target, cfg.data.sources, cfg.data.domain = e["target"], list(e["sources"]), e["domain"]
        cfg.validate()
        for seed in meta["seeds"]:
            probs = [store.probabilities(Cell(m, experiment, seed)) for m in members]
            if any(p is None for p in probs):
                continue
            data = prepare_data(cfg.data, seed)
            t = data.table
            val, test = t.rows(languages=data.target, split="validation"), t.rows(languages=data.target, split="test")
            chosen = validation_rows(t, data.sources, data.target, cfg.mgl, seed).target
            yield {
                "experiment": experiment.label,
                "target": experiment.target,
                "seed": seed,
                "val": [p["validation"] for p in probs],
                "test": [p["test"] for p in probs],
                "y_val": t.labels[val],
                "y_test": t.labels[test],
                "unselected": ~np.isin(val, chosen),
            }


def choose_beta(items: list[dict], rows: str) -> tuple[float, dict]:
    """The beta with the best mean held-out accuracy over the grid (two halves of each item's rows, crossed)."""
    scores = {}
    for beta in BETAS:
        accs = []
        for it in items:
            idx = np.flatnonzero(it[rows])
            rng = np.random.default_rng([it["seed"], 7])
            half = np.zeros(len(idx), bool)
            half[rng.permutation(len(idx))[: len(idx) // 2]] = True
            for fit, score in ((idx[half], idx[~half]), (idx[~half], idx[half])):
                w = weights([p[fit] for p in it["val"]], it["y_val"][fit], beta)
                accs.append(float((mix([p[score] for p in it["val"]], w).argmax(1) == it["y_val"][score]).mean()))
        scores[beta] = float(np.mean(accs))
    best = max(BETAS, key=lambda b: (round(scores[b], 12), -b))
    return best, scores


def evaluate(folder: Path, members: tuple[str, ...]) -> dict:
    from scipy import stats

    items = list(groups(folder, members))
    if not items:
        raise SystemExit(f"{folder}: no experiment-seed with every member's stored probabilities")
    for it in items:
        it["selected"] = np.ones_like(it["unselected"])
    honest = all(it["unselected"].sum() >= 10 for it in items)
    rows = "unselected" if honest else "selected"
    beta, cv = choose_beta(items, rows)
    per = []
    for it in items:
        mask, y_test = it[rows], it["y_test"]

        def acc(probs: np.ndarray, y_test: np.ndarray = y_test) -> float:
            return float((probs.argmax(1) == y_test).mean())

        w = weights([p[mask] for p in it["val"]], it["y_val"][mask], beta)
        per.append(
            {
                "experiment": it["experiment"],
                "target": it["target"],
                "seed": it["seed"],
                "weights": {m: round(float(x), 4) for m, x in zip(members, w)},
                "equal": acc(mix(it["test"], np.full(len(members), 1 / len(members)))),
                "weighted": acc(mix(it["test"], w)),
                **{m: acc(p) for m, p in zip(members, it["test"])},
            }
        )
    eq, wt = np.array([r["equal"] for r in per]), np.array([r["weighted"] for r in per])
    test = stats.ttest_rel(wt, eq) if np.any(wt != eq) else None
    by_target: dict[str, dict] = {}
    for r in per:
        d = by_target.setdefault(r["experiment"], {"equal": [], "weighted": [], **{m: [] for m in members}})
        for k in ("equal", "weighted", *members):
            d[k].append(r[k])
    return {
        "grid": str(folder),
        "members": list(members),
        "rows": rows,
        "honest": honest,
        "beta": beta,
        "beta_scores": cv,
        "experiment_seeds": len(per),
        "equal": round(float(eq.mean()) * 100, 2),
        "weighted": round(float(wt.mean()) * 100, 2),
        "difference": round(float((wt - eq).mean()) * 100, 2),
        "t": None if test is None else round(float(test.statistic), 3),
        "p": None if test is None else float(test.pvalue),
        "by_experiment": {
            k: {m: round(float(np.mean(v)) * 100, 2) for m, v in d.items()} for k, d in by_target.items()
        },
        "cells": per,
    }


def table(result: dict) -> str:
    members = result["members"]
    lines = [
        f"### {result['grid']} ({'weights on the validation rows no member chose on' if result['honest'] else 'BIASED: weights on the rows the members chose on'}; beta = {result['beta']:g})",
        "",
        "| experiment | " + " | ".join(members) + " | equal | weighted | Δ |",
        "|---|" + "---:|" * (len(members) + 3),
    ]
    for k, d in result["by_experiment"].items():
        lines.append(
            f"| {k} | "
            + " | ".join(f"{d[m]:.2f}" for m in members)
            + f" | {d['equal']:.2f} | {d['weighted']:.2f} | {d['weighted'] - d['equal']:+.2f} |"
        )
    p = "n/a" if result["p"] is None else f"{result['p']:.3g}"
    lines += [
        "",
        f"Mean over {result['experiment_seeds']} experiment-seeds: equal {result['equal']:.2f}, weighted "
        f"{result['weighted']:.2f} ({result['difference']:+.2f} points; paired t = {result['t']}, p = {p}).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+", type=Path)
    parser.add_argument("--members", default=",".join(MEMBERS))
    parser.add_argument("--out", default="benchmarks/out/weighted_ensemble.json")
    args = parser.parse_args(argv)
    if require_mgl_data("weighted_ensemble") is None:
        return 2
    claim_out(args.out)
    from mgl.provenance import machine_info

    members = tuple(m.strip() for m in args.members.split(",") if m.strip())
    results = [evaluate(g, members) for g in args.grids]
    for r in results:
        print(table(r), "\n", flush=True)
    write_out(
        args.out,
        {
            "command": "python benchmarks/weighted_ensemble.py " + " ".join(map(str, args.grids)),
            "betas": list(BETAS),
            "grids": results,
            "machine": machine_info(),
        },
    )
    Path(args.out).with_suffix(".md").write_text("\n\n".join(table(r) for r in results) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
