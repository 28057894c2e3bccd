"""SetFit's fitted model as a head: its contrastively adapted encoder and its logistic regression.

The head reads texts (``reads_texts = True``): each input is embedded by the adapted encoder, an mgl
:class:`~mgl.encoders.text_encoder.TextEncoder` holding the weights SetFit trained (same model,
prefix, pooling and length as the run's encoder; fp32, as SetFit trained it), and the logistic
regression SetFit fitted on those vectors gives the probabilities
(:class:`~mgl.methods.heads.logistic.LogisticHead`, standardisation the identity). Saved like every
head: the encoder's weights and the regression's as tensors, the encoder's spec as settings; the
base model is loaded by name and the saved weights replace its own. Predicting needs no ``setfit``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mgl.encoders.spec import EncoderSpec
from mgl.encoders.text_encoder import TextEncoder
from mgl.methods.heads.base import Head, LabelledBank
from mgl.methods.heads.logistic import LogisticHead

BODY = "body."
LOGISTIC = "logistic."


class SetFitHead(Head):
    kind = "setfit"
    reads_texts = True

    def __init__(self, encoder: TextEncoder, logistic: LogisticHead):
        self.encoder = encoder
        self.logistic = logistic
        self.num_classes = logistic.num_classes

    def predict_proba(self, x: torch.Tensor, texts=None) -> np.ndarray:
        if texts is None:
            raise ValueError("a SetFit head reads the texts: give texts=")
        if not len(texts):
            return np.zeros((0, self.num_classes))
        vectors = self.encoder.embed(list(texts), progress=False)
        return self.logistic.predict_proba(torch.from_numpy(vectors))

    def tensors(self) -> dict[str, torch.Tensor]:
        body = {BODY + k: v.detach().cpu().contiguous() for k, v in self.encoder.model.state_dict().items()}
        return {**body, **{LOGISTIC + k: v for k, v in self.logistic.tensors().items()}}

    def settings(self) -> dict[str, Any]:
        spec = self.encoder.spec
        encoder = {"model": spec.model, "pooling": spec.pooling, "prefix": spec.prefix, "max_length": spec.max_length}
        return {"num_classes": self.num_classes, "encoder": encoder, "logistic": self.logistic.settings()}

    @classmethod
    def from_saved(cls, settings, tensors, bank: LabelledBank, device="cpu") -> SetFitHead:
        encoder = TextEncoder(EncoderSpec(**settings["encoder"], precision="fp32"), device=device)
        load_weights(encoder, {k[len(BODY) :]: v for k, v in tensors.items() if k.startswith(BODY)})
        logistic = LogisticHead.from_saved(
            settings["logistic"], {k[len(LOGISTIC) :]: v for k, v in tensors.items() if k.startswith(LOGISTIC)}, bank
        )
        return cls(encoder, logistic)

    def to(self, device) -> SetFitHead:
        self.encoder.to(device)
        return self


def load_weights(encoder: TextEncoder, state: dict[str, torch.Tensor]) -> None:
    """The adapted weights into ``encoder``'s model: every weight of the model must be there (a
    pooler the model does not have is ignored)."""
    missing, _unexpected = encoder.model.load_state_dict(
        {k: v for k, v in state.items() if not k.startswith("pooler.")}, strict=False
    )
    if missing:
        raise ValueError(f"the SetFit weights lack {len(missing)} of the encoder's, e.g. {missing[:3]}")
    encoder.eval()
