"""The instances of one experiment as one table: language, class id and split per row.

Features are looked up by row index (:mod:`mgl.encoders.node_features`); every method (MGL's trainer, the
baselines, the logistic regressions) and the grids read the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class ExampleTable:
    """The instances of one experiment in one table: features are looked up by row index."""

    languages: np.ndarray  # str per row
    labels: np.ndarray  # class id per row
    splits: np.ndarray  # "train" / "validation" / "test" per row
    label_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def rows(self, *, languages: Sequence[str] | str, split: str) -> np.ndarray:
        langs = [languages] if isinstance(languages, str) else list(languages)
        return np.flatnonzero(np.isin(self.languages, langs) & (self.splits == split))
