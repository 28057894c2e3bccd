"""Ensembles of finished cells: a grid gains an ensemble row without training anything.

Every cell keeps its fitted model's validation and test probabilities beside its record
(:meth:`mgl.grid.store.CellStore.probabilities`). :func:`derive_ensemble` makes, per (experiment,
seed), an :class:`~mgl.methods.ensemble.Ensemble` of the members' recorded cells and fits and scores
it by the one path (:func:`mgl.methods.scoring.fit_and_score`: the mean of the members'
probabilities, scored against the target's labels read again from the grid's data, the same seeded
subsample), and writes the result as cells of the method
:func:`ensemble_name` ``(members)``, e.g. ``ensemble[mgl+mix+logreg-pooled]``. A (experiment, seed)
missing a member's cell or probabilities is left out and counted, never filled in.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mgl.data.preparation import prepare_data
from mgl.grid.plan import Cell, Experiment
from mgl.grid.runner import cell_metrics
from mgl.grid.store import CellStore
from mgl.methods.ensemble import Ensemble, Recorded
from mgl.methods.scoring import SPLITS, fit_and_score, target_rows

PREFIX = "ensemble["


def ensemble_name(members: Sequence[str]) -> str:
    return PREFIX + "+".join(members) + "]"


def derive_ensemble(
    store: CellStore, cfg, experiments: Sequence[Experiment], seeds: Sequence[int], members: Sequence[str]
) -> tuple[str, list[dict], list[tuple[Experiment, int, str]]]:
    """Write the ensemble's cells; returns (its method name, its records, the (experiment, seed, why)
    left out). Each cell is an :class:`~mgl.methods.ensemble.Ensemble` of the members'
    :class:`~mgl.methods.ensemble.Recorded` cells, fitted and scored by
    :func:`~mgl.methods.scoring.fit_and_score` (nothing trains) as a grid's own ensemble cell is."""
    name = ensemble_name(members)
    records, missing = [], []
    for experiment in experiments:
        for seed in seeds:
            found = {}
            for m in members:
                cell = Cell(m, experiment, seed)
                record, p = store.load(cell), store.probabilities(cell)
                if record is None or p is None:
                    missing.append((experiment, seed, f"{m}: no finished cell with probabilities"))
                    break
                found[m] = (record, p)
            else:
                c = experiment.config(cfg)
                data = prepare_data(c.data, seed)
                sizes = {split: len(target_rows(data, split)) for split in SPLITS}
                if any(len(p.get(split, ())) != n for _, p in found.values() for split, n in sizes.items()):
                    missing.append((experiment, seed, "the stored probabilities do not match the data's rows"))
                    continue
                recorded = {
                    m: Recorded(m, c, p, {"train_seconds": r.get("train_seconds", 0.0), "n_train": r.get("n_train", 0)})
                    for m, (r, p) in found.items()
                }
                metrics = cell_metrics(data, fit_and_score(Ensemble(name, c, recorded), data, None, c, seed=seed))
                record = {
                    "method": name,
                    "target": experiment.target,
                    "domain": experiment.domain,
                    "sources": list(experiment.sources),
                    "seed": seed,
                    **{k: metrics[k] for k in ("accuracy", "precision", "recall", "f1", "val_accuracy")},
                    "f1_averaging": metrics["averaging"],
                    "n_test": metrics["n_test"],
                    "train_seconds": float(metrics["train_seconds"]),
                    "derived_from": list(members),
                    "scorer": next(iter(found.values()))[0].get("scorer"),
                    "details": {k: metrics[k] for k in ("members", "member_accuracy")},
                    "probabilities": metrics["probabilities"],
                    "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
                store.save(Cell(name, experiment, seed), record)
                records.append({k: v for k, v in record.items() if k != "probabilities"})
    return name, records, missing


__all__ = ["derive_ensemble", "ensemble_name"]
