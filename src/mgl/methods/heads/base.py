"""What every method's fitted model is: a head over node features, and the labelled bank it may read.

A *head* maps the features of inputs (the encoder's embeddings, ``[n, dim]``) to class
probabilities ``[n, |Y|]``, each input's row depending on that input alone. A head that also reads
the inputs' texts (:attr:`Head.reads_texts`, the character n-gram regression) is given them beside
the features by every caller, as :func:`~mgl.methods.inputs.head_texts` joins them. The product
(:class:`mgl.model.classifier.Classifier`) and the experiment grids hold the same fitted head, so a
grid's cell reports what a saved model predicts. Heads are saved as tensors (safetensors) and
JSON settings, never pickled: :meth:`Head.tensors` / :meth:`Head.settings` out,
:meth:`Head.from_saved` in, through :data:`HEAD_KINDS` (the ``kind`` names the class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from mgl.data.examples import Example


@dataclass
class LabelledBank:
    """The labelled training examples a model keeps: every language's ``train`` rows, their
    embeddings (the final encoder's, ``[n, dim]`` float32) and class ids.

    MGL draws its support sets from the sources' rows; every method's explanations name the
    nearest of them (:mod:`mgl.model.neighbours`)."""

    examples: list[Example]
    embeddings: torch.Tensor
    labels: np.ndarray
    label_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if not (len(self.examples) == len(self.embeddings) == len(self.labels)):
            raise ValueError("a labelled bank needs one embedding and one label per example")

    @property
    def languages(self) -> np.ndarray:
        return np.array([ex.language for ex in self.examples])

    def rows(self, languages: Sequence[str]) -> np.ndarray:
        return np.flatnonzero(np.isin(self.languages, list(languages)))


HEAD_KINDS: dict[str, type[Head]] = {}
"""A saved head's ``kind`` -> its class: every subclass of :class:`Head` that names a ``kind`` is
added when it is defined (a method's plug-in brings its head with it)."""


class Head:
    """A fitted method: ``predict_proba(features) -> [n, |Y|]`` (float64, rows sum to 1)."""

    kind: ClassVar[str]
    reads_texts: ClassVar[bool] = False
    """True: :meth:`predict_proba` needs ``texts`` (:func:`~mgl.methods.inputs.head_texts`) beside the features."""
    num_classes: int

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if isinstance(kind, str):
            known = HEAD_KINDS.get(kind)
            if known is not None and known.__qualname__ != cls.__qualname__:
                raise TypeError(f"head kind {kind!r} is taken by {known.__module__}.{known.__qualname__}")
            HEAD_KINDS[kind] = cls

    def predict_proba(self, x: torch.Tensor, texts: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities of the inputs with features ``x`` (and, for a head that
        :attr:`reads_texts`, texts ``texts``; other heads ignore them)."""
        raise NotImplementedError

    def tensors(self) -> dict[str, torch.Tensor]:
        """The learned arrays, for safetensors."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """Everything else needed to rebuild the head (JSON)."""
        raise NotImplementedError

    @classmethod
    def from_saved(
        cls,
        settings: dict[str, Any],
        tensors: dict[str, torch.Tensor],
        bank: LabelledBank,
        device: torch.device | str = "cpu",
    ) -> Head:
        raise NotImplementedError

    def to(self, device: torch.device | str) -> Head:
        return self


def row_features(features, rows: np.ndarray, batch_size: int = 256) -> torch.Tensor:
    """The features ``[len(rows), dim]`` (float32, on the features' device) of table rows, in eval
    mode and without gradients, ``batch_size`` rows per call; the features' mode is restored."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return torch.zeros(0, features.dim)
    was_training = getattr(features, "training", False)
    features.eval()
    try:
        with torch.no_grad():
            return torch.cat([features(rows[s : s + batch_size]).float() for s in range(0, len(rows), batch_size)])
    finally:
        if was_training:
            features.train(True)


def head_probabilities(head: Head, x: torch.Tensor, texts: Sequence[str] | None = None) -> np.ndarray:
    """``head.predict_proba``: with ``texts`` for a head that :attr:`~Head.reads_texts`, with the features
    alone otherwise, so that heads written before texts existed (a plug-in's one-argument
    ``predict_proba``) keep working. Every caller goes through here."""
    return head.predict_proba(x, texts=texts) if head.reads_texts else head.predict_proba(x)


def score_rows(
    head: Head, features, rows: np.ndarray, batch_size: int = 256, *, texts: Sequence[str] | None = None
) -> np.ndarray:
    """``head.predict_proba`` of the table rows' features (:func:`row_features`) and, for a head that
    reads them, the rows' ``texts`` (:func:`~mgl.methods.inputs.head_texts`, one per row). The one scorer of the grids and
    the product: a row's probabilities depend on that row alone."""
    if len(rows) == 0:
        return np.zeros((0, head.num_classes))
    if features is None:  # a method of kind surface, fitted without the encoder: it reads the texts alone
        return head_probabilities(head, torch.zeros(len(rows), 0), texts)
    return head_probabilities(head, row_features(features, rows, batch_size), texts)
