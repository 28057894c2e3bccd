"""Training checkpoints: written atomically after every round, read back by ``--resume``.

The file holds, per stage, everything :func:`mgl.methods.mgl.training.train_stage` needs to continue
exactly where it stopped (weights, optimiser, numpy and torch random states, the best
checkpoint so far), plus a fingerprint of the configuration and one of the data (every
example's id, text, pair, label, language and split, in order) so that a checkpoint is never
resumed under different settings or on changed data. It is read with
``torch.load(weights_only=True)``: tensors and plain Python values only, no code runs from the
file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mgl.config import RunConfig
from mgl.errors import MGLError
from mgl.fingerprints import config_fingerprint, data_fingerprint
from mgl.io import atomic_open
from mgl.outputs import record_written

CHECKPOINT_KIND = "checkpoint"
"""The kind a checkpoint is recorded under (:func:`mgl.outputs.record_written`)."""


class Checkpointer:
    """Keeps one checkpoint file with the state of every stage reached so far.

    ``examples``: the experiment's data; its :func:`data_fingerprint` is stored and checked.
    ``resume``: read the checkpoint back now (:attr:`resumed`)."""

    def __init__(self, path: str | Path, cfg: RunConfig, examples=None, *, resume: bool = False):
        self.path = Path(path)
        self.data_fingerprint = data_fingerprint(examples) if examples is not None else None
        self.fingerprint = config_fingerprint(cfg, scope="run")
        self.stages: dict[str, dict] = {}
        self.resumed: dict[str, dict] | None = self.load() if resume else None
        """With ``resume``: the stage states read back (None when there is no checkpoint yet)."""

    def save(self, stage: str, state: dict) -> None:
        """Record the stage's state; only the main process writes the file (every process calls this)."""
        from mgl import distributed

        self.stages[stage] = state
        if not distributed.is_main_process():
            return
        with atomic_open(self.path, "wb") as fh:
            torch.save(
                {"fingerprint": self.fingerprint, "data_fingerprint": self.data_fingerprint, "stages": self.stages}, fh
            )

        record_written(self.path, CHECKPOINT_KIND)

    def load(self) -> dict[str, dict] | None:
        """The saved stage states, or None when there is no checkpoint yet."""
        if not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file
            raise MGLError(f"cannot read the checkpoint ({str(exc).splitlines()[0][:120]})", source=self.path) from None
        if not isinstance(saved, dict) or saved.get("fingerprint") != self.fingerprint:
            raise MGLError(
                "the checkpoint was written with a different configuration; remove it or change --out", source=self.path
            )
        if self.data_fingerprint is not None and saved.get("data_fingerprint") != self.data_fingerprint:
            raise MGLError(
                "cannot --resume: the data changed since the checkpoint was written (examples, texts or "
                "labels differ); remove the checkpoint to train on the new data, or change --out",
                source=self.path,
            )
        self.stages = dict(saved["stages"])
        return self.stages
