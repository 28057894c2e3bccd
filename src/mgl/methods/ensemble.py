r"""The ensemble as a method: each member fitted as it is alone, their class probabilities averaged.

.. math::

    p(y \mid x) = \frac{1}{M} \sum_{m=1}^{M} p_m(y \mid x)

(:func:`mgl.methods.heads.ensemble.mean_probabilities`, the one mean). The members share one set of
features, reset to their starting weights before each member trains; the first MGL member holds
the checkpoint (a checkpoint holds one MGL's stages). An ensemble needs a frozen encoder.
"""

from __future__ import annotations

from mgl.config import DEFAULT_MEMBERS
from mgl.errors import ConfigError
from mgl.methods.base import Method
from mgl.methods.registry import check_members, is_mgl, make_method


class Ensemble(Method):
    """The mean of its members' probabilities (default members: :data:`mgl.config.DEFAULT_MEMBERS`)."""

    def chosen_members(self) -> list[str]:
        return check_members(self.members or self.config.members or DEFAULT_MEMBERS)

    def check_frozen(self) -> None:
        enc = self.config.encoder
        if enc.train != "none" or enc.pooling_head != "none":
            raise ConfigError(
                "an ensemble shares one frozen encoder among its members: use encoder.train=none and "
                "no pooling head, or train one method (--method NAME)"
            )

    def check_data(self, data) -> None:
        self.check_frozen()
        for name in self.chosen_members():
            make_method(name, self.config, options=self.options).check_data(data)

    def _fit(self, data, features, *, seed, device, progress, checkpoint, resume):
        from mgl.methods.heads.ensemble import EnsembleHead

        self.check_frozen()
        chosen = self.chosen_members()
        initial = features.state_dict()
        first_mgl = next((m for m in chosen if is_mgl(m)), None)
        self.members_: dict[str, Method] = {}
        for name in chosen:
            features.load_state_dict(initial)
            own = name == first_mgl  # a checkpoint holds one MGL's stages
            self.members_[name] = make_method(name, self.config, options=self.options).fit(
                data,
                features,
                seed=seed,
                device=device,
                progress=progress,
                checkpoint=checkpoint if own else None,
                resume=resume if own else None,
                keep_bank=False,
            )
        head = EnsembleHead({name: m.head_ for name, m in self.members_.items()})
        report = {
            "members": chosen,
            "train_seconds": sum(m.report_["train_seconds"] for m in self.members_.values()),
        }
        # one bank for all: the members share one frozen encoder (an MGL member has embedded it already)
        bank = next((m.bank_ for m in self.members_.values() if m.bank_ is not None), None)
        features.load_state_dict(initial)
        return head, report, bank
