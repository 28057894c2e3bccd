"""SetFit as a method: what a practitioner with a few labels picks instead of mgl, run through its own library.

* ``setfit``: the target's labelled rows alone, SetFit as its authors run it on a new task;
* ``setfit-pooled``: every language's labelled rows together (the SetFit paper's multilingual
  setting). Pairs are drawn from all of them, but the run takes as many contrastive steps as
  ``setfit`` would on the target's labels (:func:`mgl.methods.setfit_training.default_steps`), so that
  pooling changes what the pairs hold, not the budget.

Both start from the run's encoder weights with its prefix (the embedded e5: ``query: ``), read the
same rows as every other method and keep SetFit's own settings (:class:`mgl.config.SetFitConfig`:
the library's defaults). SetFit chooses nothing on validation rows; its cells report the target's
validation accuracy like every other. The fitted head (:class:`mgl.methods.heads.setfit.SetFitHead`)
embeds each input with the adapted encoder, so the method reads texts, not the run's features. The
library is the optional extra ``setfit`` (``pip install 'mgl-clt[setfit]'``), imported where it trains.
"""

from __future__ import annotations

import dataclasses
import time

from mgl.encoders.spec import EncoderSpec
from mgl.errors import ConfigError
from mgl.methods.base import FitResult, Method, Training
from mgl.methods.inputs import row_texts


class SetFitMethod(Method):
    """``setfit`` or ``setfit-pooled``, by name."""

    needs_target_labels = True
    reads_features = False

    def check_data(self, data) -> None:
        super().check_data(data)
        self.training()  # the optional extra: refused before the encoder runs

    def training(self):
        """The training module, :mod:`mgl.methods.setfit_training` (it imports the optional extra
        ``setfit``), or a ConfigError saying how to install it."""
        try:
            import mgl.methods.setfit_training as setfit_training
        except ImportError:
            raise ConfigError(
                f"{self.name} runs SetFit through its own library: pip install 'mgl-clt[setfit]'"
            ) from None
        return setfit_training

    def _fit(self, data, features, run: Training) -> FitResult:
        from mgl.encoders.text_encoder import TextEncoder

        training = self.training()
        cfg = self.config.setfit
        t = data.table
        target = t.rows(languages=data.target, split="train")
        rows = target if self.name == "setfit" else t.rows(languages=[*data.sources, data.target], split="train")
        max_steps = cfg.max_steps
        if self.name == "setfit-pooled" and max_steps is None:
            max_steps = training.default_steps(t.labels[target].tolist(), cfg)
        spec = dataclasses.replace(EncoderSpec.from_config(self.config.encoder), precision="fp32")
        encoder = TextEncoder(spec, device=run.device)
        t0 = time.perf_counter()
        head, steps = training.train_setfit(
            encoder,
            row_texts(data, rows),
            t.labels[rows].tolist(),
            t.num_classes,
            cfg,
            seed=run.seed,
            max_steps=max_steps,
            progress=run.progress,
        )
        report = {"n_train": len(rows), "contrastive_steps": steps, "max_steps": max_steps}
        return FitResult(head, time.perf_counter() - t0, report)
