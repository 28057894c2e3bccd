"""Where mgl may write: every output location is checked before any work, and nothing mgl did not
write is ever deleted.

* :func:`check_writable_folder`: a folder that will receive files (``--out``, the folder of
  ``--output``) exists or can be made, and a file can be created in it. Checked by creating and
  removing a probe file, so that a read-only mount, a full disk or a path through a file is
  found before training, with the folder the user gave in the message.
* :func:`check_model_destination`: a model directory (``--save``, ``save_pretrained``) may be
  written only where nothing but an mgl model would be replaced: a missing or empty folder, or
  an mgl model (with ``overwrite``) holding only files an mgl model holds. A folder with
  anything else in it, the current folder or a folder that holds it, is refused.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from mgl.errors import MGLError

__all__ = ["MODEL_FILES", "check_model_destination", "check_writable_folder", "is_mgl_model_dir"]

MODEL_FILES = frozenset({
    "mgl_model.json", "checksums.json", "README.md", "model.safetensors", "support_embeddings.safetensors",
    "support.jsonl", "encoder.safetensors", "pooling_head.safetensors",
    "head.safetensors", "examples.jsonl", "example_embeddings.safetensors",
})
"""Every file an mgl model directory may hold (what :func:`mgl.model_io.save_model` writes, both formats)."""


def check_writable_folder(folder: str | Path, *, what: str = "output folder", given: str | Path | None = None) -> Path:
    """Make sure files can be created in ``folder`` (created with its parents if missing); errors
    name ``given`` (what the user typed; default ``folder``)."""
    given = str(given if given is not None else folder)
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise MGLError(f"the {what} exists and is not a folder", source=given)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".mgl-write-probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        where = "" if Path(given).expanduser() == path else f" {path}"
        raise MGLError(f"cannot write to the {what}{where} ({exc.strerror or type(exc).__name__})", source=given) from None
    return path


def is_mgl_model_dir(folder: str | Path) -> bool:
    """Whether ``folder`` holds an mgl model (an ``mgl_model.json`` of the mgl-model format)."""
    try:
        meta = json.loads((Path(folder) / "mgl_model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == "mgl-model"


def check_model_destination(folder: str | Path, *, overwrite: bool) -> Path:
    """Refuse a model directory whose writing could lose something mgl did not write.

    Allowed: a missing folder (its parent must be writable), an empty folder, or, with
    ``overwrite``, an mgl model folder holding only model files (it is then replaced as a
    whole, atomically). Returns the resolved path.
    """
    given = str(folder)
    path = Path(folder).expanduser().resolve()
    cwd = Path.cwd().resolve()
    if path == cwd or path in cwd.parents:
        raise MGLError("a model is saved into a folder of its own; this is the current folder (or holds it): "
                       "name a new or empty folder", source=given)
    if path.exists():
        if not path.is_dir():
            raise MGLError("cannot save a model here: it exists and is not a folder", source=given)
        entries = sorted(p.name for p in path.iterdir())
        if entries:
            if not is_mgl_model_dir(path):
                shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
                raise MGLError(f"cannot save a model here: the folder is not empty and holds no mgl model "
                               f"({shown}); mgl never deletes what it did not write: name a new or empty folder",
                               source=given)
            foreign = [e for e in entries if e not in MODEL_FILES]
            if foreign:
                raise MGLError(f"cannot replace the mgl model here: the folder also holds files mgl did not write "
                               f"({', '.join(foreign[:5])}); move them away or name another folder", source=given)
            if not overwrite:
                raise MGLError("the folder holds an mgl model already; give --overwrite to replace it", source=given)
    check_writable_folder(path.parent, what="folder that will hold the model", given=given)
    if path.exists():
        check_writable_folder(path, what="model folder", given=given)
    return path
