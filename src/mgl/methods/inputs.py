"""What a head that reads texts sees of each input: its text, or its text, a newline and its pair.

The one place the inputs' texts are joined, for the product (:mod:`mgl.model.classifier`) and for
the table rows a method trains and is scored on (:func:`row_texts`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def head_texts(texts: Sequence[str], pairs: Sequence[str | None] | None = None) -> list[str]:
    """Each input's text, or its text, a newline and its pair."""
    if pairs is None:
        return list(texts)
    if len(pairs) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(pairs)} pairs")
    return [t if p is None else f"{t}\n{p}" for t, p in zip(texts, pairs)]


def row_texts(data, rows: np.ndarray) -> list[str]:
    """The experiment's table rows as a head that reads texts sees them (:func:`head_texts`)."""
    examples = [data.examples[i] for i in rows]
    return head_texts([ex.text for ex in examples], [ex.text_pair for ex in examples])
