"""Which validation rows every method chooses its model on: one draw, shared by all of them.

A method's stages that train on the sources validate on each source's validation rows; a stage
that trains on the target (and the logistic regressions' C) on the target's. Each set is a fixed
random subset of at most ``test_episodes * n_query`` rows (:func:`validation_subset`), drawn from
one random stream per seed, ``numpy.random.default_rng([seed, 99])``, in one order: each source's
in the order of ``sources`` (MGL's meta-train pairs hold out the sources in that order), then the
target's. So MGL (:func:`mgl.methods.mgl.training.fit_mgl`), the neural baselines and the
regressions choose on the very same rows. Zero-shot (no target training row) the target's rows are
the sources' together (:func:`zero_shot_rows`): the model never sees a target label. Test rows are
never among them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mgl.config import MGLConfig
from mgl.data.example_table import ExampleTable


@dataclass(frozen=True)
class ValidationRows:
    """``sources``: ``[(language, rows), ...]`` in the order of the sources; ``target``: the target's
    rows (zero-shot: the sources' together)."""

    sources: list[tuple[str, np.ndarray]]
    target: np.ndarray
    zero_shot: bool


def validation_subset(rows: np.ndarray, cfg: MGLConfig, rng: np.random.Generator) -> np.ndarray:
    """At most ``test_episodes * n_query`` validation rows, a fixed random subset."""
    limit = cfg.test_episodes * cfg.n_query
    if len(rows) <= limit:
        return rows
    return np.sort(rng.choice(rows, size=limit, replace=False))


def validation_rows(
    table: ExampleTable, sources: Sequence[str], target: str, cfg: MGLConfig, seed: int, *, sources_first: bool = True
) -> ValidationRows:
    """The validation rows of this seed. ``sources_first=False`` (MGL without its meta-train stage)
    draws the target's rows first, as that variant has no source stage to draw for."""
    rng = np.random.default_rng([seed, 99])
    source_rows = (
        [(lang, validation_subset(table.rows(languages=lang, split="validation"), cfg, rng)) for lang in sources]
        if sources_first
        else []
    )
    if len(table.rows(languages=target, split="train")) == 0:
        return ValidationRows(source_rows, zero_shot_rows(source_rows), True)
    return ValidationRows(
        source_rows, validation_subset(table.rows(languages=target, split="validation"), cfg, rng), False
    )


def zero_shot_rows(source_rows: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """Zero-shot, the rows that stand for the target's validation rows: the sources' validation
    rows together (the model never sees a target label)."""
    if not source_rows:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.concatenate([rows for _, rows in source_rows]))
