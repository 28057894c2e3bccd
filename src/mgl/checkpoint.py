"""Training checkpoints: written atomically after every round, read back by ``--resume``.

The file holds, per stage, everything :func:`mgl.training.train_stage` needs to continue
exactly where it stopped (weights, optimiser, numpy and torch random states, the best
checkpoint so far), plus a fingerprint of the configuration so that a checkpoint is never
resumed under different settings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from mgl.config import RunConfig
from mgl.errors import MGLError
from mgl.io import atomic_open


def config_fingerprint(cfg: RunConfig) -> str:
    raw = cfg.to_dict()
    raw["encoder"] = {k: v for k, v in raw["encoder"].items() if k != "device"}
    from mgl.encoders.embedded_e5 import resolved_prefix

    raw["encoder"]["prefix"] = resolved_prefix(cfg.encoder.model, cfg.encoder.prefix)  # as it runs
    return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()


class Checkpointer:
    """Keeps one checkpoint file with the state of every stage reached so far."""

    def __init__(self, path: str | Path, cfg: RunConfig):
        self.path = Path(path)
        self.fingerprint = config_fingerprint(cfg)
        self.stages: dict[str, dict] = {}

    def save(self, stage: str, state: dict) -> None:
        """Record the stage's state; only the main process writes the file (every process calls this)."""
        from mgl import distributed

        self.stages[stage] = state
        if not distributed.is_main_process():
            return
        with atomic_open(self.path, "wb") as fh:
            torch.save({"fingerprint": self.fingerprint, "stages": self.stages}, fh)

    def load(self) -> dict[str, dict] | None:
        """The saved stage states, or None when there is no checkpoint yet."""
        if not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:  # a truncated or foreign file
            raise MGLError(f"cannot read the checkpoint ({str(exc).splitlines()[0][:120]})", source=self.path) from None
        if not isinstance(saved, dict) or saved.get("fingerprint") != self.fingerprint:
            raise MGLError("the checkpoint was written with a different configuration; remove it or change --out",
                           source=self.path)
        self.stages = dict(saved["stages"])
        return self.stages
