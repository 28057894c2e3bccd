"""The classification metrics every method is scored by, and the split metrics of a result record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mgl.data.preparation import ExperimentData


def classification_metrics(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    num_classes: int,
    positive: int | None = None,
) -> dict[str, Any]:
    """Accuracy, and precision/recall/F1: of the ``positive`` class when binary, macro otherwise; the
    macro-F1 over every class, and the confusion matrix (rows true, columns predicted)."""
    # scikit-learn at call time: the CLI imports this package, and `mgl --help`, the data commands
    # and predict start without it
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(num_classes))
    if num_classes == 2:
        pos = 1 if positive is None else positive
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=[pos], average=None, zero_division=0)
        p, r, f = float(p[0]), float(r[0]), float(f[0])
        averaging = "positive class"
    else:
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        averaging = "macro"
    _, _, macro, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
        "averaging": averaging,
        "macro_f1": float(macro),
        # rows: the true class, columns: the predicted one, in the label order of the data
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def mean_nll(probs: np.ndarray, y_true: Sequence[int] | np.ndarray) -> float:
    """Mean negative log-likelihood of the true classes (for tie-breaking in model selection).

    An empty set has no mean: that raises ``ValueError`` rather than returning a number."""
    if len(probs) == 0:
        raise ValueError("mean_nll of an empty set")
    p = probs[np.arange(len(probs)), np.asarray(y_true)]
    return float(-np.log(np.clip(p, 1e-12, 1.0)).mean())


def split_metrics(data: ExperimentData, probabilities: dict[str, np.ndarray]) -> dict[str, Any]:
    """Test metrics (:func:`classification_metrics`; nulls and a stated averaging
    when the target has no test rows), validation accuracy (null without validation rows), and
    the row counts."""
    t = data.table
    test = t.rows(languages=data.target, split="test")
    val = t.rows(languages=data.target, split="validation")
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
