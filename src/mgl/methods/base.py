"""What every method is: a class that fits itself into a head, scikit-learn's way.

A method is constructed with its name and its settings, which the constructor stores untouched;
:meth:`Method.fit` validates them, trains on an experiment's data and features, and keeps what
it learned in attributes ending in ``_`` (``head_``, ``report_``, ``bank_``, for an ensemble
``members_``); :meth:`Method.predict_proba` refuses (``NotFittedError``) before ``fit``. The
fitted head (:mod:`mgl.methods.heads`) is what the grids score and the product saves, serves and
explains. A subclass implements :meth:`Method._fit` and, if it can fail before the encoder runs
on data it cannot use, :meth:`Method.check_data`; it is registered once by name
(:func:`mgl.methods.registry.register`).

torch, scikit-learn and the heads are imported inside the methods that use them: the registry
and the command line import this module to list the methods, and stay light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

    from mgl.config import RunConfig
    from mgl.methods.heads.base import Head, LabelledBank


class Method:
    """One method of the registry, fitted on one experiment.

    Args:
        name: the registered name (``mgl`` and its variants name their settings, e.g. ``mgl-gcn3``).
        config: the run configuration (:class:`~mgl.config.RunConfig`): MGL's and the classifiers'
            hyper-parameters, the data's settings.
        options: the neural baselines' settings (:class:`~mgl.methods.baselines.BaselineOptions`; None: defaults).
        members: an ensemble's members (None: the configuration's).
    """

    def __init__(self, name: str, config: RunConfig, *, options=None, members: Sequence[str] | None = None):
        self.name = name
        self.config = config
        self.options = options
        self.members = members

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # ------------------------------------------------------------------ fitting

    needs_target_labels = False
    """Whether the method trains on the target's labels alone, so that zero-shot it has nothing to train."""

    def check_data(self, data) -> None:
        """Fail early (DataError), before the encoder runs, on data this method cannot train on."""
        self.check_zero_shot(data)

    def check_zero_shot(self, data) -> None:
        """A method that needs the target's labels refuses zero-shot data (DataError)."""
        if self.needs_target_labels and data.zero_shot:
            from mgl.errors import DataError

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
        nothing is scored here. ``keep_bank=False`` (the grids, which score and keep nothing else)
        skips embedding the labelled bank for heads that do not read it. Returns ``self``."""
        self.config.validate()
        self.check_zero_shot(data)
        head, report, bank = self._fit(
            data,
            features,
            seed=seed,
            device=device,
            progress=progress,
            checkpoint=checkpoint,
            resume=resume,
        )
        if bank is None and keep_bank:
            bank = labelled_bank(data, features)
        self.head_: Head = head
        self.report_: dict[str, Any] = report
        self.bank_: LabelledBank | None = bank
        return self

    def _fit(self, data, features, *, seed, device, progress, checkpoint, resume) -> tuple[Head, dict, Any]:
        """``(head, report, labelled bank or None)``; the report has ``train_seconds``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ prediction

    @property
    def fitted_members(self) -> dict[str, Method]:
        """An ensemble's fitted members (empty for every other method)."""
        return getattr(self, "members_", {})

    def predict_proba(self, x: torch.Tensor, texts: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities ``[n, |Y|]`` of features ``x`` (the fitted head's; ``texts``, see
        :func:`mgl.methods.heads.base.head_texts`, for a head that reads them)."""
        from sklearn.utils.validation import check_is_fitted

        from mgl.methods.heads.base import head_probabilities

        check_is_fitted(self, "head_", msg=f"this {self.name} method is not fitted yet: call fit() first")
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
