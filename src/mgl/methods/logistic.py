"""The logistic-regression references as a method: ``logreg-target`` (the target's few labels) and
``logreg-pooled`` (every language's labelled rows), on the frozen embeddings.

The simplest strong reference, the number a reader needs beside MGL: what the learned graph adds
over a linear read-out of the same features. A standardised L2 logistic regression, one per C of
``logistic.cs`` (:class:`~mgl.config.LogisticConfig`), the best kept by accuracy on the target's
validation rows that every method chooses on (:func:`mgl.methods.validation_rows.validation_rows`;
ties: the smaller C). The fitted head is a :class:`~mgl.methods.heads.logistic.LogisticHead`.
scikit-learn and torch are imported inside the functions that use them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mgl.config import LOGISTIC_CS
from mgl.errors import DataError
from mgl.methods.base import FitResult, Method, Training
from mgl.methods.selection import require_finite, require_rows
from mgl.methods.validation_rows import validation_rows


class LogisticRegressionMethod(Method):
    """``logreg-target`` or ``logreg-pooled``, by name."""

    @property
    def needs_target_labels(self) -> bool:  # type: ignore[override]
        return self.name == "logreg-target"

    def _fit(self, data, features, run: Training) -> FitResult:
        from mgl.methods.heads.base import row_features
        from mgl.methods.heads.logistic import LogisticHead

        t = data.table
        langs = [data.target] if self.name == "logreg-target" else [*data.sources, data.target]
        train = t.rows(languages=langs, split="train")
        val = validation_rows(t, data.sources, data.target, self.config.mgl, run.seed).target
        t0 = time.perf_counter()
        fit = fit_logistic_regression(
            row_features(features, train).cpu().numpy(),
            t.labels[train],
            row_features(features, val).cpu().numpy(),
            t.labels[val],
            Cs=self.config.logistic.cs,
            max_iter=self.config.logistic.max_iter,
            seed=run.seed,
            stage=self.name,
        )
        seconds = time.perf_counter() - t0
        head = LogisticHead.from_pipeline(fit.model, t.num_classes, C=fit.C)
        report = {
            "n_train": len(train),
            "C": fit.C,
            "val_accuracy": fit.val_accuracy,
            "val_scores": {str(k): v for k, v in fit.val_scores.items()},
        }
        return FitResult(head, seconds, report)


@dataclass
class LogisticFit:
    model: Any
    """The fitted scikit-learn pipeline (StandardScaler, LogisticRegression)."""
    C: float
    val_accuracy: float
    val_scores: dict[float, float]


def fit_logistic_regression(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    Cs: Sequence[float] = LOGISTIC_CS,
    max_iter: int = 5000,
    seed: int = 0,
    stage: str = "logistic regression",
) -> LogisticFit:
    """Fit one model per ``C``; keep the best by validation accuracy (ties: the smaller C).

    An empty training or validation set, or a non-finite validation score, is a
    :class:`~mgl.errors.DataError` naming ``stage`` (see :mod:`mgl.methods.selection`)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mgl.methods.heads.logistic import OneClass

    if len(x_train) == 0:
        raise DataError(f"{stage}: no training rows")
    require_rows(stage, [("the target's validation rows", len(x_val))])
    classes = np.unique(y_train)
    if len(classes) == 1:
        # the rows show one class (a target's very few labels): a regression cannot be fitted, and the
        # honest answer of a classifier trained on them alone is that class, always (probability 1)
        model = make_pipeline(StandardScaler(), OneClass(int(classes[0]), x_train.shape[1])).fit(x_train, y_train)
        acc = float((model.predict(x_val) == y_val).mean())
        require_finite(f"{stage} (one class)", "the target's validation rows", accuracy=acc)
        return LogisticFit(model, float(Cs[0]), acc, {float(c): acc for c in Cs})
    best: LogisticFit | None = None
    scores: dict[float, float] = {}
    for C in Cs:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
        model.fit(x_train, y_train)
        acc = float((model.predict(x_val) == y_val).mean())
        require_finite(f"{stage} (C={C:g})", "the target's validation rows", accuracy=acc)
        scores[C] = acc
        if best is None or acc > best.val_accuracy:
            best = LogisticFit(model, C, acc, scores)
    assert best is not None
    best.val_scores = scores
    return best
