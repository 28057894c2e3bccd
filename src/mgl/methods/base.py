"""What every method is: a class that fits itself into a head, scikit-learn's way.

A method is constructed with its name and the run configuration, which the constructor stores
untouched (each method reads its own section: ``mgl``, ``baselines``, ``logistic``, ``chars``);
:meth:`Method.fit` trains on an experiment's data and features and keeps what it learned in
attributes ending in ``_`` (``head_``, ``report_``, ``bank_``, for an ensemble ``members_``);
:meth:`Method.predict_proba` refuses (``NotFittedError``) before ``fit``. The fitted head
(:mod:`mgl.methods.heads`) is what the grids score and the product saves, serves and explains.

A subclass implements :meth:`Method._fit`, which takes the experiment, its features and one
:class:`Training` (seed, device, progress; MGL's checkpoint and resume) and returns a
:class:`FitResult`, and, if it can fail before the encoder runs on data it cannot use,
:meth:`Method.check_data`; it is listed once in the registry's table
(:data:`mgl.methods.registry.METHODS`, or registered by a plug-in).

torch, scikit-learn and the heads are imported inside the methods that use them: the registry
and the command line import this module to list the methods, and stay light.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mgl.errors import DataError, MGLError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

    from mgl.config import RunConfig
    from mgl.methods.heads.base import Head, LabelledBank


@dataclass
class Training:
    """How one fit runs: the seed, the device, progress bars, and (MGL's stages alone) a checkpoint
    writer and the states to resume from."""

    seed: int
    device: Any = "cpu"
    progress: bool = False
    checkpoint: Callable[[str, dict], None] | None = None
    resume: dict[str, dict] | None = None


@dataclass
class FitResult:
    """What a method's :meth:`Method._fit` returns."""

    head: Head | None
    """The fitted head (None: an ensemble of recorded members, which scores their rows and predicts nothing new)."""
    train_seconds: float
    """The training time (MGL: its stages' own clocks, carried over a restart)."""
    report: dict[str, Any] = field(default_factory=dict)
    """Anything else the method reports (``n_train``, the chosen C, its stages ...)."""
    bank: LabelledBank | None = None
    """The labelled bank if the method embedded it already (None: :meth:`Method.fit` builds it if asked)."""


class Method:
    """One method of the registry, fitted on one experiment.

    Args:
        name: the registered name (``mgl`` and its variants name their settings, e.g. ``mgl-gcn3``).
        config: the run configuration (:class:`~mgl.config.RunConfig`); each method reads its own section.
    """

    def __init__(self, name: str, config: RunConfig):
        self.name = name
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # ------------------------------------------------------------------ fitting

    reads_features = True
    """Whether the method reads the encoder's features (a method that reads the texts alone, with its
    own model of them, does not: a grid group of such methods embeds nothing)."""

    takes_checkpoint = False
    """Whether :class:`Training`'s checkpoint and resume act on this method (MGL's stages): an
    ensemble hands them to its first such member."""

    needs_target_labels = False
    """Whether the method trains on the target's labels alone, so that zero-shot it has nothing to train."""

    def check_data(self, data) -> None:
        """Fail early (DataError), before the encoder runs, on data this method cannot train on."""
        self.check_zero_shot(data)

    def check_zero_shot(self, data) -> None:
        """A method that needs the target's labels refuses zero-shot data (DataError)."""
        if self.needs_target_labels and data.zero_shot:
            raise DataError(
                f"{self.name} trains on the target's labels, and the target {data.target!r} has none (zero-shot); "
                "methods that transfer from the sources alone: ensemble (the default), mgl, mix, fine-tune, "
                "reptile, logreg-pooled, logreg-chars"
            )

    def fit(
        self,
        data,
        features,
        *,
        seed: int,
        device: torch.device | str = "cpu",
        progress: bool = False,
        checkpoint=None,
        resume=None,
        keep_bank: bool = True,
    ) -> Method:
        """Train on ``data`` (an :class:`~mgl.data.preparation.ExperimentData`) with ``features``;
        nothing is scored here (the configuration was validated where the run was made). ``keep_bank=False``
        (the grids, which score and keep nothing else) skips embedding the labelled bank for heads that do
        not read it. Returns ``self``."""
        self.check_zero_shot(data)
        run = Training(seed, device, progress, checkpoint, resume)
        result = self._fit(data, features, run)
        bank = result.bank
        if bank is None and keep_bank and result.head is not None:
            bank = labelled_bank(data, features)
        self.head_: Head | None = result.head
        self.report_: dict[str, Any] = {"train_seconds": float(result.train_seconds), **result.report}
        self.bank_: LabelledBank | None = bank
        return self

    def _fit(self, data, features, run: Training) -> FitResult:
        """Train on ``data`` with ``features`` as ``run`` says; the fitted head and what to report."""
        raise NotImplementedError

    # ------------------------------------------------------------------ prediction

    @property
    def fitted_members(self) -> dict[str, Method]:
        """An ensemble's fitted members (empty for every other method)."""
        return getattr(self, "members_", {})

    def predict_proba(self, x: torch.Tensor, texts: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities ``[n, |Y|]`` of features ``x`` (the fitted head's; ``texts``, see
        :func:`mgl.methods.inputs.head_texts`, for a head that reads them)."""
        from sklearn.utils.validation import check_is_fitted

        from mgl.methods.heads.base import head_probabilities

        check_is_fitted(self, "head_", msg=f"this {self.name} method is not fitted yet: call fit() first")
        if self.head_ is None:
            raise MGLError(
                f"{self.name} was built from recorded members' probabilities: it has no model to predict with"
            )
        return head_probabilities(self.head_, x, texts)


def labelled_bank(data, features, *, languages: Sequence[str] | None = None) -> LabelledBank:
    """Every ``train`` row of ``languages`` (default: the sources and the target), with its features
    as they are now (a trained encoder's final weights)."""
    from mgl.methods.heads.base import LabelledBank, row_features

    t = data.table
    rows = t.rows(languages=list(languages or [*data.sources, data.target]), split="train")
    return LabelledBank(
        [data.examples[i] for i in rows], row_features(features, rows).cpu(), t.labels[rows], list(t.label_names)
    )
