"""The simplest strong reference: a logistic regression on frozen embeddings.

Trained on the frozen embeddings of some labelled instances (the target's few labels
alone, or every language's labelled training data pooled), with its inverse
regularisation strength ``C`` chosen on the same validation data MGL uses (the
target's validation split). Features are standardised first. This is the number a
reader needs beside MGL: what the learned graph adds over a linear read-out of the
same features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from mgl.errors import DataError

DEFAULT_CS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass
class LogRegResult:
    model: Pipeline
    C: float
    val_accuracy: float
    val_scores: dict[float, float]


def fit_logistic_regression(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    Cs: Sequence[float] = DEFAULT_CS,
    seed: int = 0,
    stage: str = "logistic regression",
) -> LogRegResult:
    """Fit one model per ``C``; keep the best by validation accuracy (ties: the smaller C).

    An empty training or validation set, or a non-finite validation score, is a
    :class:`~mgl.errors.DataError` naming ``stage`` (see :mod:`mgl.methods.selection`)."""
    from mgl.methods.selection import require_finite, require_rows

    if len(x_train) == 0:
        raise DataError(f"{stage}: no training rows")
    require_rows(stage, [("the target's validation rows", len(x_val))])
    classes = np.unique(y_train)
    if len(classes) == 1:
        # the rows show one class (a target's very few labels): a regression cannot be fitted, and the
        # honest answer of a classifier trained on them alone is that class, always (probability 1)
        model = make_pipeline(StandardScaler(), _OneClass(int(classes[0]), x_train.shape[1])).fit(x_train, y_train)
        acc = float((model.predict(x_val) == y_val).mean())
        require_finite(f"{stage} (one class)", "the target's validation rows", accuracy=acc)
        return LogRegResult(model, float(Cs[0]), acc, {float(c): acc for c in Cs})
    best: LogRegResult | None = None
    scores: dict[float, float] = {}
    for C in Cs:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000, random_state=seed))
        model.fit(x_train, y_train)
        acc = float((model.predict(x_val) == y_val).mean())
        require_finite(f"{stage} (C={C:g})", "the target's validation rows", accuracy=acc)
        scores[C] = acc
        if best is None or acc > best.val_accuracy:
            best = LogRegResult(model, C, acc, scores)
    assert best is not None
    best.val_scores = scores
    return best


class _OneClass(ClassifierMixin, BaseEstimator):
    """The last step of a pipeline fitted on rows of one class: it predicts that class. It has a
    logistic regression's fitted attributes (zero weights), so :class:`~mgl.methods.heads.logreg.LogRegHead`
    holds it like any other: probability 1 for the class, 0 for the others."""

    def __init__(self, label: int = 0, dim: int = 1):
        self.label = label
        self.dim = dim

    def fit(self, x, y):
        self.classes_ = np.array([self.label])
        self.coef_ = np.zeros((1, self.dim))
        self.intercept_ = np.zeros(1)
        return self

    def predict(self, x):
        return np.full(len(x), self.classes_[0])
