"""Which texts to label next: unlabelled texts ranked by what their label would buy.

Strategies (:data:`STRATEGIES`), over the model's calibrated probabilities :math:`p` of each
unlabelled text and its vector :math:`h`:

* ``margin``: the smallest margin :math:`p_{(1)} - p_{(2)}` first (the text the model is most torn on);
* ``entropy``: the largest entropy :math:`-\\sum_y p_y \\log p_y` first;
* ``diverse`` (the default): margin balanced with diversity, as Zhdanov (2019, "Diverse mini-batch
  active learning") does it: the :data:`CANDIDATES_PER_PICK` x ``n`` texts of smallest margin are
  clustered into ``n`` groups by k-means on their L2-normalised vectors, each text weighted by its
  uncertainty :math:`1 - \\text{margin}` (scikit-learn's ``KMeans(sample_weight=...)``), and the text
  of smallest margin in each group is suggested, so 20 suggestions are not 20 near-copies;
* ``random``: a seeded random choice (the baseline every strategy is measured against).

:func:`choose` is the one place a strategy picks; :meth:`mgl.model.classifier.Classifier.suggest` and
``mgl suggest`` add each suggestion's reasons (its margin, entropy, predicted label and nearest
labelled example), and the active-learning simulation (``benchmarks/active_learning.py``) calls it
round after round. ``small-text`` was looked at and not used: it wraps its own classifiers around the
query strategies, where mgl needs a strategy over a fitted mgl model's outputs.
"""

from __future__ import annotations

import numpy as np

from mgl.errors import ConfigError, DataError

STRATEGIES = ("diverse", "margin", "entropy", "random")
DEFAULT_STRATEGY = "diverse"
DEFAULT_SUGGESTIONS = 20
"""Texts suggested when the caller does not say."""
CANDIDATES_PER_PICK = 10
"""``diverse``: the candidates clustered per suggestion (Zhdanov's beta)."""


def margins(probs: np.ndarray) -> np.ndarray:
    """The gap between each row's two highest probabilities (0: torn between two classes)."""
    top = np.sort(probs, axis=1)[:, -2:]
    return top[:, 1] - top[:, 0]


def entropies(probs: np.ndarray) -> np.ndarray:
    """Each row's entropy in nats."""
    p = np.clip(probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def choose(
    probs: np.ndarray, vectors: np.ndarray, n: int, *, strategy: str = DEFAULT_STRATEGY, seed: int = 0
) -> list[int]:
    """The positions of the ``n`` texts to label next, in the order suggested (see the module's strategies)."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if n < 1:
        raise ConfigError(f"the number of suggestions must be >= 1, got {n}")
    total = len(probs)
    if total == 0:
        raise DataError("nothing to suggest from: no unlabelled text")
    if len(vectors) != total:
        raise ValueError(f"{total} probability rows but {len(vectors)} vectors")
    n = min(n, total)
    margin = margins(probs)
    if strategy == "random":
        return [int(i) for i in np.random.default_rng(seed).permutation(total)[:n]]
    if strategy == "margin":
        return [int(i) for i in np.argsort(margin, kind="stable")[:n]]
    if strategy == "entropy":
        return [int(i) for i in np.argsort(-entropies(probs), kind="stable")[:n]]
    from sklearn.cluster import KMeans

    candidates = np.argsort(margin, kind="stable")[: min(total, CANDIDATES_PER_PICK * n)]
    if len(candidates) <= n:
        return [int(i) for i in candidates]
    x = np.asarray(vectors, dtype=np.float64)[candidates]
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    clusters = KMeans(n_clusters=n, n_init=3, random_state=seed).fit_predict(x, sample_weight=1.0 - margin[candidates])
    picked = []
    for c in range(n):
        members = candidates[clusters == c]
        if len(members):
            picked.append(int(members[np.argmin(margin[members])]))
    picked.sort(key=lambda i: (margin[i], i))
    if len(picked) < n:  # an empty cluster: fill with the next most torn candidates
        chosen = set(picked)
        picked += [int(i) for i in candidates if int(i) not in chosen][: n - len(picked)]
    return picked
