r"""Temperature scaling (Guo et al., 2017) and the expected calibration error.

A fitted method's probabilities :math:`p` are rescaled with one temperature :math:`T > 0`,

.. math::

    \tilde p_c = \frac{p_c^{1/T}}{\sum_{c'} p_{c'}^{1/T}}
               = \mathrm{softmax}\Big(\frac{\log p}{T}\Big)_c,

with :math:`T` minimising the negative log-likelihood of the target's validation rows; the
predicted class never changes. The expected calibration error over ``bins`` equal-width
confidence bins :math:`B_b` of :math:`n` inputs is
:math:`\mathrm{ECE} = \sum_b \frac{|B_b|}{n}\,|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)|`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BINS = 15
T_BOUNDS = (0.05, 20.0)


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row by row (T = 1: unchanged), by :func:`scipy.special.softmax`
    (bit-identical to the hand-written form it replaced: max subtracted, exp, normalised)."""
    from scipy.special import softmax

    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 1.0:
        return probs
    return softmax(np.log(np.clip(probs, 1e-300, 1.0)) / temperature, axis=1)


def nll(probs: np.ndarray, labels: Sequence[int]) -> float:
    """Mean negative log-likelihood of the true classes. Kept by hand rather than
    :func:`sklearn.metrics.log_loss`: that clips at the dtype's epsilon and checks the label set, which
    would move every fitted temperature (and so saved models and committed results) in its last digits."""
    p = np.asarray(probs)[np.arange(len(probs)), np.asarray(labels)]
    return float(-np.log(np.clip(p, 1e-300, 1.0)).mean())


def fit_temperature(probs: np.ndarray, labels: Sequence[int]) -> float:
    """The temperature minimising the validation NLL (bounded search over log T); ValueError on an
    empty set, which has no NLL to minimise."""
    from scipy.optimize import minimize_scalar

    if len(probs) == 0:
        raise ValueError("temperature scaling needs validation rows")
    lo, hi = np.log(T_BOUNDS[0]), np.log(T_BOUNDS[1])
    result = minimize_scalar(
        lambda log_t: nll(apply_temperature(probs, float(np.exp(log_t))), labels),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-4},
    )
    t = float(np.exp(result.x))
    if not np.isfinite(t):
        raise ValueError("temperature scaling did not converge")
    # never worse than no scaling on the data it was fitted on
    return t if nll(apply_temperature(probs, t), labels) <= nll(probs, labels) else 1.0


def reliability(probs: np.ndarray, labels: Sequence[int], bins: int = BINS) -> list[dict]:
    """Per confidence bin: its range, count, mean confidence and accuracy (empty bins left out)."""
    probs = np.asarray(probs, dtype=np.float64)
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "count": int(mask.sum()),
                    "confidence": float(conf[mask].mean()),
                    "accuracy": float(correct[mask].mean()),
                }
            )
    return out


def expected_calibration_error(probs: np.ndarray, labels: Sequence[int], bins: int = BINS) -> float:
    # scikit-learn has reliability bins (calibration_curve, binary only) but no ECE: written here
    if len(probs) == 0:
        raise ValueError("the calibration error of an empty set is undefined")
    n = len(probs)
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in reliability(probs, labels, bins)))


def calibration_report(
    probs: dict[str, np.ndarray], labels: np.ndarray, rows: dict[str, np.ndarray], *, where: str
) -> tuple[float, dict]:
    """The temperature fitted on ``probs["validation"]`` (1 where there are no validation rows,
    which the report states), and per split with rows the expected calibration error and the
    reliability curve before and after; ``labels`` are the table's, ``rows`` each split's rows."""
    if not len(rows["validation"]):
        return 1.0, {"temperature": 1.0, "fitted_on": "nothing: the target has no validation rows"}
    temperature = fit_temperature(probs["validation"], labels[rows["validation"]])
    report: dict = {"temperature": temperature, "fitted_on": f"{where} ({len(rows['validation'])} rows)"}
    curves: dict = {}
    for split in ("validation", "test"):
        if not len(rows[split]):
            continue
        y, after = labels[rows[split]], apply_temperature(probs[split], temperature)
        report[f"ece_{split}_before"] = expected_calibration_error(probs[split], y)
        report[f"ece_{split}_after"] = expected_calibration_error(after, y)
        curves[f"{split}_before"] = reliability(probs[split], y)
        curves[f"{split}_after"] = reliability(after, y)
    report["reliability"] = curves
    return temperature, report
