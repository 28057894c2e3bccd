"""The one fit-and-score path: a method fitted, its head scoring the target's validation and test rows.

:func:`fit_and_score` is what :class:`mgl.model.classifier.Classifier`, the grids (:mod:`mgl.grid.runner`),
``mgl train``, ``mgl run`` and the benchmarks call: it makes the method from the registry, fits it
(:meth:`mgl.methods.base.Method.fit`) and scores the rows with the fitted head's own
``predict_proba`` (:func:`mgl.methods.heads.base.score_rows`), so what a saved model predicts is what a
cell reports. An ensemble's probabilities are the mean of its members' (:func:`ensemble_probabilities`,
the one place the mean is taken), each member scored once; a grid's ensemble cell goes the same way,
its members :class:`~mgl.methods.ensemble.Recorded` from their cells (:mod:`mgl.grid.derived_ensembles`), and
:meth:`Scored.member_accuracy` is the one place members' accuracies are read. :func:`split_metrics` turns
probabilities into the numbers every record carries; a split without rows gives nulls, never a
number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mgl.errors import DataError, MGLError
from mgl.methods.base import Method
from mgl.methods.ensemble import Recorded
from mgl.methods.inputs import row_texts
from mgl.methods.metrics import split_metrics
from mgl.methods.registry import make_method

SPLITS = ("validation", "test")

SCORER = "fitted-head"
"""How cells and runs are scored: the fitted model's own ``predict_proba`` (:func:`mgl.methods.heads.score_rows`),
MGL with each input the query of its own graph (:mod:`mgl.methods.mgl.head`)."""


@dataclass
class Scored:
    """A fitted method and the probabilities of the target's rows: ``probabilities[name][split]``
    for the method and, for an ensemble, each member."""

    method: Method
    probabilities: dict[str, dict[str, np.ndarray]]
    metrics: dict[str, dict[str, Any]]
    """:func:`split_metrics` of each entry of ``probabilities``."""

    @property
    def own(self) -> dict[str, np.ndarray]:
        """The method's own probabilities by split."""
        return self.probabilities[self.method.name]

    def member_accuracy(self) -> dict[str, dict[str, float | None]]:
        """Each ensemble member's validation and test accuracy (null where a split has no rows);
        empty for a single method. The one place members are scored."""
        return {
            name: {"validation": self.metrics[name]["val_accuracy"], "test": self.metrics[name]["accuracy"]}
            for name in self.method.fitted_members
        }


def target_rows(data, split: str) -> np.ndarray:
    """The target's rows of ``split`` in the experiment's table."""
    return data.table.rows(languages=data.target, split=split)


def fit_and_score(
    name: str | Method,
    data,
    features,
    cfg,
    *,
    seed: int,
    device="cpu",
    progress: bool = False,
    members: Sequence[str] | None = None,
    checkpoint=None,
    resume=None,
    keep_bank: bool = False,
) -> Scored:
    """Make ``name`` from the registry under the run configuration ``cfg`` (or take the method
    given: an :class:`~mgl.methods.ensemble.Ensemble` of fitted or recorded members fits nothing
    again), fit it on ``data`` with ``features``, and score the target's validation and test rows
    with the fitted head."""
    method = name if isinstance(name, Method) else make_method(name, cfg, members=members)
    method.fit(
        data,
        features,
        seed=seed,
        device=device,
        progress=progress,
        checkpoint=checkpoint,
        resume=resume,
        keep_bank=keep_bank,
    )
    probabilities = split_probabilities(method, data, features)
    return Scored(method, probabilities, {name: split_metrics(data, p) for name, p in probabilities.items()})


def split_probabilities(method: Method, data, features) -> dict[str, dict[str, np.ndarray]]:
    """``{name: {split: probabilities}}`` of the target's validation and test rows, for the fitted
    method and (an ensemble) each member, each member scored once (a recorded member's own rows read
    back) and the ensemble's the mean of theirs."""
    rows = {split: target_rows(data, split) for split in SPLITS}
    members = method.fitted_members or {method.name: method}
    reads = any(m.head_ is not None and m.head_.reads_texts for m in members.values())
    texts = {split: row_texts(data, r) for split, r in rows.items()} if reads else None  # gathered once
    out = {name: member_probabilities(m, features, rows, texts) for name, m in members.items()}
    if method.fitted_members:
        out[method.name] = ensemble_probabilities(out)
    return out


def member_probabilities(
    method: Method, features, rows: dict[str, np.ndarray], texts: dict[str, list[str]] | None
) -> dict[str, np.ndarray]:
    """One fitted method's probabilities of ``rows`` by split: its head's (``texts``, the rows' inputs
    by split, for a head that reads them), or a recorded member's own (which must cover the same rows)."""
    from mgl.methods.heads.base import score_rows

    if isinstance(method, Recorded):
        for split, r in rows.items():
            if len(method.recorded.get(split, ())) != len(r):
                raise DataError(
                    f"{method.name}: the recorded {split} probabilities cover {len(method.recorded.get(split, ()))} "
                    f"rows, the data has {len(r)}"
                )
        return {split: method.recorded[split] for split in rows}
    head = method.head_
    if head is None:
        raise MGLError(f"{method.name} has no fitted head to score with")
    return {
        s: score_rows(head, features, r, texts=texts[s] if head.reads_texts and texts else None)
        for s, r in rows.items()
    }


def ensemble_probabilities(members: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The ensemble's probabilities by split: the mean of its members' (:func:`mgl.methods.heads.ensemble.mean_probabilities`)."""
    from mgl.methods.heads.ensemble import mean_probabilities

    return {split: mean_probabilities([p[split] for p in members.values()]) for split in SPLITS}
