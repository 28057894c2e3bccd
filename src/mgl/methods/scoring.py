"""The one fit-and-score path: a method fitted, its head scoring the target's validation and test rows.

:func:`fit_and_score` is what :class:`mgl.classifier.Classifier`, the grids (:mod:`mgl.grid.runner`),
``mgl train``, ``mgl run`` and the benchmarks call: it makes the method from the registry, fits it
(:meth:`mgl.methods.base.Method.fit`) and scores the rows with the fitted head's own
``predict_proba`` (:func:`mgl.heads.base.score_rows`), so what a saved model predicts is what a
cell reports. An ensemble's probabilities are the mean of its members' (:func:`ensemble_probabilities`,
the one place the mean is taken), each member scored once. :func:`split_metrics` turns
probabilities into the numbers every record carries; a split without rows gives nulls, never a
number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mgl.methods.base import Method
from mgl.methods.registry import make_method

SPLITS = ("validation", "test")

SCORER = "fitted-head"
"""How cells and runs are scored: the fitted model's own ``predict_proba`` (:func:`mgl.heads.score_rows`),
MGL with each input the query of its own graph (:mod:`mgl.heads.meta_graph`)."""


@dataclass
class Scored:
    """A fitted method and the probabilities of the target's rows: ``probabilities[name][split]``
    for the method and, for an ensemble, each member."""

    method: Method
    probabilities: dict[str, dict[str, np.ndarray]]

    @property
    def own(self) -> dict[str, np.ndarray]:
        """The method's own probabilities by split."""
        return self.probabilities[self.method.name]


def target_rows(data, split: str) -> np.ndarray:
    """The target's rows of ``split`` in the experiment's table."""
    return data.table.rows(languages=data.target, split=split)


def fit_and_score(
    name: str,
    data,
    features,
    cfg,
    *,
    seed: int,
    device="cpu",
    progress: bool = False,
    options=None,
    members: Sequence[str] | None = None,
    checkpoint=None,
    resume=None,
    keep_bank: bool = False,
) -> Scored:
    """Make ``name`` from the registry under the run configuration ``cfg``, fit it on ``data`` with
    ``features``, and score the target's validation and test rows with the fitted head."""
    method = make_method(name, cfg, options=options, members=members).fit(
        data,
        features,
        seed=seed,
        device=device,
        progress=progress,
        checkpoint=checkpoint,
        resume=resume,
        keep_bank=keep_bank,
    )
    return Scored(method, split_probabilities(method, data, features))


def split_probabilities(method: Method, data, features) -> dict[str, dict[str, np.ndarray]]:
    """``{name: {split: probabilities}}`` of the target's validation and test rows, for the fitted
    method and (an ensemble) each member, each member scored once."""
    from mgl.heads.base import score_rows

    rows = {split: target_rows(data, split) for split in SPLITS}
    members = method.fitted_members
    if members:
        out = {m: {s: score_rows(f.head_, features, r) for s, r in rows.items()} for m, f in members.items()}
        out[method.name] = ensemble_probabilities(out)
        return out
    return {method.name: {s: score_rows(method.head_, features, r) for s, r in rows.items()}}


def ensemble_probabilities(members: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The ensemble's probabilities by split: the mean of its members' (:func:`mgl.heads.ensemble.mean_probabilities`)."""
    from mgl.heads.ensemble import mean_probabilities

    return {split: mean_probabilities([p[split] for p in members.values()]) for split in SPLITS}


def split_metrics(data, probabilities: dict[str, np.ndarray]) -> dict[str, Any]:
    """Test metrics (:func:`mgl.evaluation.classification_metrics`; nulls and a stated averaging
    when the target has no test rows), validation accuracy (null without validation rows), and
    the row counts."""
    from mgl.evaluation import classification_metrics

    t = data.table
    test, val = target_rows(data, "test"), target_rows(data, "validation")
    if len(test):
        metrics = classification_metrics(t.labels[test], probabilities["test"].argmax(1), t.num_classes, data.positive)
    else:  # nothing evaluated: no number stands in for a score (None is null in JSON)
        metrics = dict.fromkeys(("accuracy", "precision", "recall", "f1", "macro_f1", "confusion_matrix"))
        metrics["averaging"] = "none (no test split)"
    metrics["val_accuracy"] = (
        float((probabilities["validation"].argmax(1) == t.labels[val]).mean()) if len(val) else None
    )
    metrics.update(n_test=len(test), n_validation=len(val))
    return metrics


def member_accuracy(data, probabilities: dict[str, dict[str, np.ndarray]], members: Sequence[str]) -> dict:
    """Each ensemble member's validation and test accuracy (null where a split has no rows)."""
    out = {}
    for name in members:
        m = split_metrics(data, probabilities[name])
        out[name] = {"validation": m["val_accuracy"], "test": m["accuracy"]}
    return out


def result_record(name: str, data, metrics: dict[str, Any], *, cfg, seed: int, encoder, **extra) -> dict[str, Any]:
    """The one result record of a fitted and scored method, for a grid cell and ``mgl run`` alike:
    what was run (method, experiment, seed, encoder), its test metrics and validation accuracy,
    training time, the scorer and the machine; ``extra`` adds what the caller keeps beside
    (a cell its details and probabilities, a run its configuration and calibration)."""
    from mgl.provenance import machine_info

    enc = cfg.encoder
    return {
        "method": name,
        "data": cfg.data.name,
        "target": data.target,
        "domain": data.domain,
        "sources": list(data.sources),
        "seed": seed,
        **{k: metrics[k] for k in ("accuracy", "precision", "recall", "f1")},
        "f1_averaging": metrics.get("averaging"),
        "val_accuracy": metrics.get("val_accuracy"),
        "n_test": metrics["n_test"],
        "train_seconds": metrics["train_seconds"],
        "encoder": encoder.identity,
        "encoder_train": enc.train,
        **({"pooling_head": enc.pooling_head} if enc.pooling_head != "none" else {}),
        "scorer": SCORER,
        **extra,
        "machine": machine_info(),
    }
