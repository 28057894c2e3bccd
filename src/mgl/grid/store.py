"""The store of finished cells: one JSON file per cell under ``OUT/cells/``, each written atomically.

A re-run skips the cells whose file is there (and was computed under the same configuration,
see :func:`mgl.grid.plan.config_fingerprint`), so a kill loses at most the cells that were
running; several processes (executors' workers) may write to one store, each cell to its own
file, renamed into place.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mgl.errors import ConfigError
from mgl.grid.plan import Cell
from mgl.io import write_json_atomic


class CellStore:
    """Finished cells as JSON files under ``OUT/cells/``, each written atomically."""

    def __init__(self, out: str | Path, fingerprint: str | None = None):
        self.out = Path(out)
        self.dir = self.out / "cells"
        self.fingerprint = fingerprint

    def path(self, cell: Cell) -> Path:
        return self.dir / cell.filename

    def load(self, cell: Cell) -> dict | None:
        """The cell's record, or None if it is not finished (no file, or an unreadable one)."""
        path = self.path(cell)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None  # damaged: computed again and replaced
        if not isinstance(record, dict) or "accuracy" not in record:
            return None
        if self.fingerprint is not None and record.get("fingerprint") != self.fingerprint:
            raise ConfigError(
                f"computed under another configuration (fingerprint {record.get('fingerprint')}, this run "
                f"{self.fingerprint}); use another --out, or delete the old cells",
                source=path,
            )
        return record

    def done(self, cell: Cell) -> bool:
        return self.load(cell) is not None

    def probabilities_path(self, cell: Cell) -> Path:
        return self.dir / (Path(cell.filename).stem + ".probs.npz")

    def save(self, cell: Cell, record: dict) -> Path:
        """Write the cell's record; its ``probabilities`` (``{split: [n, |Y|]}``), if any, go first to
        ``<cell>.probs.npz`` beside it (float32, compressed), so a record on disk always has its
        probabilities."""
        record = dict(record)
        probabilities = record.pop("probabilities", None)
        if self.fingerprint is not None:
            record["fingerprint"] = self.fingerprint
        path = self.path(cell)
        if probabilities is not None:
            target = self.probabilities_path(cell)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".npz", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez_compressed(
                        fh,
                        allow_pickle=False,
                        **{str(k): np.asarray(v, dtype=np.float32) for k, v in probabilities.items()},
                    )
                os.chmod(tmp, 0o644)  # as the record beside it (mkstemp makes it private)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            record["probabilities_file"] = target.name
        write_json_atomic(path, record)
        return path

    def probabilities(self, cell: Cell) -> dict[str, np.ndarray] | None:
        """The cell's saved class probabilities by split (``validation``, ``test``), or None."""
        try:
            with np.load(self.probabilities_path(cell)) as npz:
                return {k: npz[k].astype(np.float64) for k in npz.files}
        except (FileNotFoundError, OSError, ValueError):
            return None

    def records(self, cells: Iterable[Cell]) -> list[dict]:
        return [r for r in (self.load(c) for c in cells) if r is not None]
