"""The neural baselines' classifier (:class:`MLPClassifier`) and its fitted form as a head: :class:`MLPHead`
(``Linear -> LeakyReLU -> Dropout -> Linear`` per head) and the name of the head that predicts the
target (``shared``; Multi-task: the target's own), ``p = softmax(head(body(x)))`` in eval mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mgl.methods.heads.base import Head, LabelledBank

SHARED_HEAD = "shared"
"""The name of the head every baseline but Multi-task predicts with."""


class MLPClassifier(nn.Module):
    """A shared body ``Linear -> LeakyReLU -> Dropout`` and one ``Linear`` head per name.

    One head (``"shared"``) for every baseline but Multi-task, which has one per language.
    """

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        *,
        hidden_dim: int = 768,
        dropout: float = 0.5,
        negative_slope: float = 0.01,
        heads: Sequence[str] = (SHARED_HEAD,),
    ):
        super().__init__()
        if not heads:
            raise ValueError("an MLPClassifier needs at least one head")
        self.num_classes = num_classes
        self.body = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.LeakyReLU(negative_slope), nn.Dropout(dropout))
        self.heads = nn.ModuleDict({name: nn.Linear(hidden_dim, num_classes) for name in heads})

    def forward(self, h: torch.Tensor, head: str = SHARED_HEAD) -> torch.Tensor:
        """Logits ``[n, |Y|]`` of the named head."""
        return self.heads[head](self.body(h))


class MLPHead(Head):
    kind = "mlp"

    def __init__(self, model, head: str):
        self.model = model.eval()
        self.head = head
        self.num_classes = int(model.num_classes)

    def predict_proba(self, x: torch.Tensor, texts=None) -> np.ndarray:
        device = next(self.model.parameters()).device
        with torch.no_grad():
            logits = self.model(x.to(device=device, dtype=torch.float32), self.head)
            return torch.softmax(logits.double(), dim=1).cpu().numpy()

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}

    def settings(self) -> dict[str, Any]:
        first = self.model.body[0]
        return {
            "num_classes": self.num_classes,
            "head": self.head,
            "heads": list(self.model.heads),
            "in_dim": first.in_features,
            "hidden_dim": first.out_features,
            "dropout": float(self.model.body[2].p),
            "negative_slope": float(self.model.body[1].negative_slope),
        }

    @classmethod
    def from_saved(cls, settings, tensors, bank: LabelledBank, device="cpu") -> MLPHead:
        model = MLPClassifier(
            int(settings["in_dim"]),
            int(settings["num_classes"]),
            hidden_dim=int(settings["hidden_dim"]),
            dropout=float(settings["dropout"]),
            negative_slope=float(settings["negative_slope"]),
            heads=settings["heads"],
        )
        model.load_state_dict(tensors, strict=True)
        return cls(model.to(device), settings["head"])

    def to(self, device) -> MLPHead:
        self.model = self.model.to(device)
        return self
