r"""The logistic-regression references as a head: standardise, then a linear map, as arrays.

.. math::

    z = \frac{x - \mu}{s} W^\top + b, \qquad
    p = \begin{cases} (1 - \mathrm{sigmoid}(z),\ \mathrm{sigmoid}(z)) & |Y| = 2 \\
                      \mathrm{softmax}(z) & |Y| > 2 \end{cases}

with :math:`\mu, s` the :class:`~sklearn.preprocessing.StandardScaler`'s mean and scale and
:math:`W, b` the fitted :class:`~sklearn.linear_model.LogisticRegression`'s ``coef_`` and
``intercept_``: the same probabilities as the scikit-learn pipeline (a test compares the two),
saved in safetensors rather than pickled.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from mgl.methods.heads.base import Head, LabelledBank

UNSEEN_LOGIT = -1e4
"""The logit of a class the regression never saw in training: its probability is 0 (exp(-1e4) underflows)."""


def every_class(
    coef: np.ndarray, intercept: np.ndarray, classes: list[int], num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """A regression fitted on rows that show only ``classes`` as weights over every class: the classes
    it never saw get logit :data:`UNSEEN_LOGIT` (probability 0), the others the regression's own
    softmax (scikit-learn's binary form, one row, becomes the two rows ``[0, w]``: sigmoid(z) = softmax([0, z]))."""
    if len(classes) == 2 and coef.shape[0] == 1:
        coef, intercept = np.vstack([np.zeros_like(coef[0]), coef[0]]), np.array([0.0, intercept[0]])
    full_coef = np.zeros((num_classes, coef.shape[1]))
    full_intercept = np.full(num_classes, UNSEEN_LOGIT)
    full_coef[classes], full_intercept[classes] = coef, intercept
    return full_coef, full_intercept


class LogisticHead(Head):
    kind = "logreg"

    def __init__(
        self,
        mean: np.ndarray,
        scale: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        num_classes: int,
        *,
        C: float | None = None,
    ):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.num_classes = int(num_classes)
        self.C = C

    @classmethod
    def from_pipeline(cls, pipeline, num_classes: int, *, C: float | None = None) -> LogisticHead:
        """From a fitted ``make_pipeline(StandardScaler(), LogisticRegression())``."""
        scaler, lr = pipeline[0], pipeline[-1]
        classes = [int(c) for c in lr.classes_]
        if any(c not in range(num_classes) for c in classes):
            raise ValueError(f"the logistic regression saw classes {classes}, not among 0..{num_classes - 1}")
        scale = scaler.scale_ if scaler.scale_ is not None else np.ones_like(scaler.mean_)
        coef, intercept = lr.coef_, lr.intercept_
        if classes != list(range(num_classes)):
            coef, intercept = every_class(coef, intercept, classes, num_classes)
        return cls(scaler.mean_, scale, coef, intercept, num_classes, C=C)

    def predict_proba(self, x: torch.Tensor, texts=None) -> np.ndarray:
        rows = x.detach().cpu().double().numpy() if torch.is_tensor(x) else np.asarray(x, dtype=np.float64)
        z = ((rows - self.mean) / self.scale) @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1 and self.num_classes == 2:  # scikit-learn's binary form
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            name: torch.from_numpy(np.ascontiguousarray(getattr(self, name)))
            for name in ("mean", "scale", "coef", "intercept")
        }

    def settings(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "C": self.C}

    @classmethod
    def from_saved(cls, settings, tensors, bank: LabelledBank, device="cpu") -> LogisticHead:
        return cls(
            tensors["mean"].numpy(),
            tensors["scale"].numpy(),
            tensors["coef"].numpy(),
            tensors["intercept"].numpy(),
            int(settings["num_classes"]),
            C=settings.get("C"),
        )


class OneClass(ClassifierMixin, BaseEstimator):
    """The last step of a pipeline fitted on rows of one class: it predicts that class. It has a
    logistic regression's fitted attributes (zero weights), so :class:`LogisticHead` holds it like
    any other: probability 1 for the class, 0 for the others.

    :meta private:
    """

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
