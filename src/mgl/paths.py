"""Where mgl keeps its own files: the cache folder ``MGL_HOME`` (default ``~/.cache/mgl``)."""

from __future__ import annotations

import os
from pathlib import Path


def mgl_home() -> Path:
    """The mgl cache folder: ``$MGL_HOME`` if set, else ``~/.cache/mgl``. Created on demand."""
    root = Path(os.environ.get("MGL_HOME") or Path.home() / ".cache" / "mgl").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root
