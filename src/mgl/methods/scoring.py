"""The one fit-and-score path: a method fitted, its head scoring the target's validation and test rows.

:func:`fit_and_score` is what :class:`mgl.model.classifier.Classifier`, the grids (:mod:`mgl.grid.runner`),
``mgl train``, ``mgl run`` and the benchmarks call: it makes the method from the registry, fits it
(:meth:`mgl.methods.base.Method.fit`) and scores the rows with the fitted head's own
``predict_proba`` (:func:`mgl.methods.heads.base.score_rows`), so what a saved model predicts is what a
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
    options=None,
    members: Sequence[str] | None = None,
    checkpoint=None,
    resume=None,
    keep_bank: bool = False,
) -> Scored:
    """Make ``name`` from the registry under the run configuration ``cfg`` (or take the unfitted
    method given), fit it on ``data`` with ``features``, and score the target's validation and test
    rows with the fitted head."""
    method = name if isinstance(name, Method) else make_method(name, cfg, options=options, members=members)
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
    method and (an ensemble) each member, each member scored once."""
    from mgl.methods.heads.base import score_rows

    rows = {split: target_rows(data, split) for split in SPLITS}
    reads = method.head_.reads_texts  # the texts are gathered only for a head that reads them
    texts = {split: row_texts(data, r) if reads else None for split, r in rows.items()}
    members = method.fitted_members
    if members:
        out = {
            m: {s: score_rows(f.head_, features, r, texts=texts[s]) for s, r in rows.items()}
            for m, f in members.items()
        }
        out[method.name] = ensemble_probabilities(out)
        return out
    return {method.name: {s: score_rows(method.head_, features, r, texts=texts[s]) for s, r in rows.items()}}


def row_texts(data, rows: np.ndarray) -> list[str]:
    """The table rows' inputs as a head that reads texts sees them (:func:`mgl.methods.heads.base.head_texts`)."""
    from mgl.methods.heads.base import head_texts

    examples = [data.examples[i] for i in rows]
    return head_texts([ex.text for ex in examples], [ex.text_pair for ex in examples])


def ensemble_probabilities(members: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The ensemble's probabilities by split: the mean of its members' (:func:`mgl.methods.heads.ensemble.mean_probabilities`)."""
    from mgl.methods.heads.ensemble import mean_probabilities

    return {split: mean_probabilities([p[split] for p in members.values()]) for split in SPLITS}


def member_accuracy(data, probabilities: dict[str, dict[str, np.ndarray]], members: Sequence[str]) -> dict:
    """Each ensemble member's validation and test accuracy (null where a split has no rows)."""
    out = {}
    for name in members:
        m = split_metrics(data, probabilities[name])
        out[name] = {"validation": m["val_accuracy"], "test": m["accuracy"]}
    return out
