"""Predicting instances as query nodes, and the classification metrics.

Every instance to predict is a query node of some episode: the instances are cut into
batches of R (``n_query``); each batch is scored against ``eval_times`` independently
sampled support sets, and the probabilities averaged (SPEC, "a natural reading").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from mgl.data.experiment import ExperimentData
from mgl.episodes import Episode, EpisodeSampler
from mgl.meta_graph import MetaGraphNetwork


def plan_episodes(
    sampler: EpisodeSampler, query: np.ndarray, *, n_query: int, eval_times: int, rng: np.random.Generator
) -> list[tuple[slice, list[Episode]]]:
    """For each batch of ``n_query`` queries, ``eval_times`` episodes with freshly sampled supports."""
    plan = []
    for start in range(0, len(query), n_query):
        sl = slice(start, min(start + n_query, len(query)))
        plan.append((sl, [sampler.with_queries(rng, query[sl]) for _ in range(eval_times)]))
    return plan


@torch.no_grad()
def predict_proba(
    model: MetaGraphNetwork,
    features: Any,
    sampler: EpisodeSampler,
    query: np.ndarray,
    *,
    n_query: int,
    eval_times: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Class probabilities ``[len(query), |Y|]`` of the given instances, as query nodes."""
    query = np.asarray(query, dtype=np.int64)
    out = np.zeros((len(query), model.num_classes), dtype=np.float64)
    if len(query) == 0:
        return out
    was_training = model.training
    model.eval()
    features.eval()
    try:
        plan = plan_episodes(sampler, query, n_query=n_query, eval_times=eval_times, rng=rng)
        # every node's features once (an encoder runs once per distinct instance)
        nodes = np.unique(np.concatenate([ep.nodes for _, eps in plan for ep in eps]))
        table = features(nodes)
        where = {int(n): i for i, n in enumerate(nodes)}
        for sl, episodes in plan:
            acc = torch.zeros(sl.stop - sl.start, model.num_classes, dtype=torch.float64)
            for ep in episodes:
                rows = torch.as_tensor([where[int(n)] for n in ep.nodes], device=table.device)
                h = table[rows]
                labels = torch.as_tensor(ep.support_labels, device=table.device)
                log_probs = model(h, labels)
                acc += log_probs[len(ep.support) :].exp().double().cpu()
            out[sl] = (acc / len(episodes)).numpy()
    finally:
        model.train(was_training)
        features.train(was_training)
    return out


def classification_metrics(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    num_classes: int,
    positive: int | None = None,
) -> dict[str, Any]:
    """Accuracy, and precision/recall/F1: of the ``positive`` class when binary, macro otherwise; the
    macro-F1 over every class, and the confusion matrix (rows true, columns predicted)."""
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
    """Test metrics (:func:`mgl.evaluation.classification_metrics`; nulls and a stated averaging
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
