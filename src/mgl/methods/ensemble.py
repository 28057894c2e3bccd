r"""The ensemble as a method: each member fitted as it is alone, their class probabilities averaged.

.. math::

    p(y \mid x) = \frac{1}{M} \sum_{m=1}^{M} p_m(y \mid x)

(:func:`mgl.methods.heads.ensemble.mean_probabilities`, the one mean). An :class:`Ensemble` is made
from its member *methods* (:func:`mgl.methods.registry.make_method` makes them from the
configuration's ``members``), fitted or not: :meth:`Ensemble._fit` fits each member on the shared
features, reset to their starting weights before each (the first member that takes a checkpoint,
MGL, holds it). A member may also be a :class:`Recorded` one, a finished fit's validation and test
probabilities and report (a grid's stored cell): "fitting" it restores the record, so a grid derives
its ensemble cells through the very :func:`~mgl.methods.scoring.fit_and_score` path the product
trains through, without training anything again. An ensemble of live members needs a frozen encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mgl.errors import ConfigError
from mgl.methods.base import FitResult, Method, Training


class Recorded(Method):
    """A member already fitted and scored elsewhere: its probabilities of the target's validation and
    test rows (``{split: [n, |Y|]}``) and its report (``train_seconds``, ``n_train`` ...)."""

    def __init__(self, name: str, config, probabilities: Mapping[str, np.ndarray], report: Mapping[str, Any]):
        super().__init__(name, config)
        self.recorded = {split: np.asarray(p, dtype=np.float64) for split, p in probabilities.items()}
        self.record_report = dict(report)

    def _fit(self, data, features, run: Training) -> FitResult:
        report = {k: v for k, v in self.record_report.items() if k != "train_seconds"}
        return FitResult(None, float(self.record_report.get("train_seconds") or 0.0), report)


class Ensemble(Method):
    """The mean of its members' probabilities (default members: :data:`mgl.config.DEFAULT_MEMBERS`)."""

    def __init__(self, name: str, config, members: Mapping[str, Method]):
        super().__init__(name, config)
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs at least two members, got {list(members)}")
        self.members = dict(members)

    def live(self) -> list[Method]:
        return [m for m in self.members.values() if not isinstance(m, Recorded)]

    def check_frozen(self) -> None:
        enc = self.config.encoder
        if self.live() and (enc.train != "none" or enc.pooling_head != "none"):
            raise ConfigError(
                "an ensemble shares one frozen encoder among its members: use encoder.train=none and "
                "no pooling head, or train one method (--method NAME)"
            )

    def check_data(self, data) -> None:
        self.check_frozen()
        for member in self.live():
            member.check_data(data)

    def _fit(self, data, features, run: Training) -> FitResult:
        from mgl.methods.heads.ensemble import EnsembleHead

        self.check_frozen()
        initial = features.state_dict() if features is not None else None
        holder = next((m for m in self.live() if m.takes_checkpoint), None)  # a checkpoint holds one MGL's stages
        for member in self.members.values():
            if initial is not None:
                features.load_state_dict(initial)
            own = member is holder
            member.fit(
                data,
                features,
                seed=run.seed,
                device=run.device,
                progress=run.progress,
                checkpoint=run.checkpoint if own else None,
                resume=run.resume if own else None,
                keep_bank=False,
            )
        self.members_: dict[str, Method] = dict(self.members)
        heads = {name: m.head_ for name, m in self.members_.items()}
        head = EnsembleHead(heads) if all(h is not None for h in heads.values()) else None  # type: ignore[arg-type]
        report = {
            "members": list(self.members_),
            "n_train": max(int(m.report_.get("n_train", 0)) for m in self.members_.values()),
        }
        # one bank for all: the members share one frozen encoder (an MGL member has embedded it already)
        bank = next((m.bank_ for m in self.members_.values() if m.bank_ is not None), None)
        if initial is not None:
            features.load_state_dict(initial)
        return FitResult(head, sum(m.report_["train_seconds"] for m in self.members_.values()), report, bank)
