"""Ensembles of finished cells: a grid gains an ensemble row without training anything.

Every cell keeps its fitted model's validation and test probabilities beside its record
(:meth:`mgl.grid.store.CellStore.probabilities`). :func:`derive_ensemble` averages the members'
probabilities per (experiment, seed), scores them against the target's labels (read again from
the grid's data, the same seeded subsample) and writes the result as cells of the method
:func:`ensemble_name` ``(members)``, e.g. ``ensemble[mgl+mix+logreg-pooled]``. A (experiment, seed)
missing a member's cell or probabilities is left out and counted, never filled in.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence

from mgl.data.preparation import prepare_data
from mgl.grid.plan import Cell, Experiment
from mgl.grid.store import CellStore

PREFIX = "ensemble["


def ensemble_name(members: Sequence[str]) -> str:
    return PREFIX + "+".join(members) + "]"


def is_ensemble_name(name: str) -> bool:
    return name.startswith(PREFIX) and name.endswith("]")


def members_of(name: str) -> list[str]:
    return name[len(PREFIX) : -1].split("+")


def derive_ensemble(
    store: CellStore, cfg, experiments: Sequence[Experiment], seeds: Sequence[int], members: Sequence[str]
) -> tuple[str, list[dict], list[tuple[Experiment, int, str]]]:
    """Write the ensemble's cells; returns (its method name, its records, the (experiment, seed, why)
    left out)."""
    from mgl.grid.runner import ensemble_metrics

    name = ensemble_name(members)
    records, missing = [], []
    for experiment in experiments:
        for seed in seeds:
            probs, recs = [], []
            for m in members:
                cell = Cell(m, experiment, seed)
                record, p = store.load(cell), store.probabilities(cell)
                if record is None or p is None:
                    missing.append((experiment, seed, f"{m}: no finished cell with probabilities"))
                    break
                probs.append(p)
                recs.append(record)
            else:
                c = copy.deepcopy(cfg)
                c.data.target, c.data.sources, c.data.domain = (
                    experiment.target,
                    list(experiment.sources),
                    experiment.domain,
                )
                data = prepare_data(c.validate().data, seed)
                t = data.table
                val, test = (
                    t.rows(languages=data.target, split="validation"),
                    t.rows(languages=data.target, split="test"),
                )
                if any(len(p["test"]) != len(test) or len(p["validation"]) != len(val) for p in probs):
                    missing.append((experiment, seed, "the stored probabilities do not match the data's rows"))
                    continue
                metrics = ensemble_metrics(
                    data,
                    {
                        m: {
                            "probabilities": p,
                            "val_accuracy": r.get("val_accuracy"),
                            "accuracy": r["accuracy"],
                            "n_train": r.get("n_train", 0),
                            "train_seconds": r.get("train_seconds", 0.0),
                        }
                        for m, p, r in zip(members, probs, recs)
                    },
                )
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
                    "scorer": recs[0].get("scorer"),
                    "details": {k: metrics[k] for k in ("members", "member_accuracy")},
                    "probabilities": metrics["probabilities"],
                    "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
                store.save(Cell(name, experiment, seed), record)
                records.append({k: v for k, v in record.items() if k != "probabilities"})
    return name, records, missing


__all__ = ["derive_ensemble", "ensemble_name", "is_ensemble_name", "members_of"]
