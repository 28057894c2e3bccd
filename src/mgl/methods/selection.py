"""Model selection's one rule, and the checks that keep it from choosing on nothing.

Every stage that validates (MGL's meta-train and meta-test, each baseline stage, the
logistic regressions' ``C``) keeps the candidate with the best validation accuracy, ties
broken by the lower validation NLL (then the earlier candidate). A choice made on an empty
validation set, or on a NaN, is not a choice: it silently keeps whatever came first (or
last). So before a stage starts, :func:`require_rows` checks that each of its validation
sets has rows, and after each check :func:`require_finite` that the score is a number;
either failure is a :class:`~mgl.errors.DataError` naming the stage and the languages, which
the command line reports as one line with exit status 2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from mgl.errors import DataError


def require_rows(stage: str, sets: Iterable[tuple[str, int]]) -> None:
    """Each ``(languages, n_rows)`` of ``stage``'s validation sets has at least one row."""
    sets = list(sets)
    if not sets:
        raise DataError(f"{stage}: no validation set to choose a model on")
    empty = [name for name, n in sets if n == 0]
    if empty:
        raise DataError(
            f"{stage}: no validation rows for {', '.join(empty)}; a model cannot be chosen on an empty set "
            "(give the data a 'validation' split, or let mgl carve one from the training rows with "
            "data.validation_fraction > 0)"
        )


def require_finite(stage: str, languages: Sequence[str] | str, **scores: float) -> None:
    """Every validation score of ``stage`` is a finite number."""
    bad = {name: value for name, value in scores.items() if not math.isfinite(value)}
    if bad:
        what = ", ".join(f"{name} {value}" for name, value in bad.items())
        langs = languages if isinstance(languages, str) else ", ".join(languages)
        raise DataError(f"{stage}: validation on {langs} gave {what}; a model is never chosen on a non-finite score")


def better(acc: float, nll: float, best_acc: float | None, best_nll: float | None) -> bool:
    """Whether (acc, nll) beats the best so far (None: nothing yet): higher accuracy, ties by lower NLL."""
    if best_acc is None or best_nll is None:
        return True
    return acc > best_acc or (acc == best_acc and nll < best_nll)
