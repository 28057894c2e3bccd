r"""An ensemble head: the unweighted mean of its members' class probabilities,

.. math::

    p(y \mid x) = \frac{1}{M} \sum_{m=1}^{M} p_m(y \mid x),

each member trained as it is alone (the same data, features, seed and validation rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mgl.methods.heads.base import Head, head_probabilities


class EnsembleHead(Head):
    kind = "ensemble"

    def __init__(self, members: dict[str, Head]):
        if not members:
            raise ValueError("an ensemble needs at least one member")
        sizes = {h.num_classes for h in members.values()}
        if len(sizes) != 1:
            raise ValueError(f"the ensemble's members disagree on the number of classes: {sorted(sizes)}")
        self.members = dict(members)
        self.num_classes = sizes.pop()

    @property
    def reads_texts(self) -> bool:  # type: ignore[override]
        return any(head.reads_texts for head in self.members.values())

    def member_probabilities(self, x: torch.Tensor, texts=None) -> dict[str, np.ndarray]:
        return {name: head_probabilities(head, x, texts) for name, head in self.members.items()}

    def predict_proba(self, x: torch.Tensor, texts=None) -> np.ndarray:
        return mean_probabilities(list(self.member_probabilities(x, texts).values()))

    def tensors(self) -> dict[str, torch.Tensor]:  # members are saved one by one (mgl.model.classifier)
        return {}

    def settings(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "members": list(self.members)}

    def to(self, device) -> EnsembleHead:
        for head in self.members.values():
            head.to(device)
        return self


def mean_probabilities(probs: list[np.ndarray]) -> np.ndarray:
    """The rows' mean over members (every member must give the same shape)."""
    if not probs:
        raise ValueError("no member probabilities to average")
    shapes = {p.shape for p in probs}
    if len(shapes) != 1:
        raise ValueError(f"member probabilities differ in shape: {sorted(shapes)}")
    return np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in probs]), axis=0)
