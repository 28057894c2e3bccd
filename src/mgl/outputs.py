"""Where mgl may write: one guard for every output, checked before any work.

The rule, for every place mgl writes (``--out``, ``--save``, ``--output`` file or folder, ``plot
--out``, the benchmarks' outputs):

* a path is expanded (``~``) once, here, and used as expanded;
* an existing file is replaced only if mgl wrote it, in an earlier run of the same kind, and it
  is unchanged since (recorded in ``$MGL_HOME/written/`` when it was written: its size,
  modification time and inode, never guessed from its name), or with ``--overwrite``;
* nothing is written inside an mgl model folder except by ``--save`` (:func:`save_model`), and
  never onto an input of the same command;
* refusals come before any work and name the path as the user gave it; a write that fails for
  lack of space names the path too (:func:`mgl.io.atomic_open`), exit status 2.

* :func:`check_output_file`: a file mgl is about to write (and :func:`record_written` once written).
* :func:`check_writable_folder`: a folder that will receive files exists or can be made, and a
  file can be created in it (a read-only mount or a path through a file is found before training).
* :func:`check_shard_folder`: a corpus prediction's output folder (not inside a model or an input
  folder);
* :func:`check_model_destination`: a model directory (``--save``, ``save_pretrained``) may be
  written only where nothing but an mgl model would be replaced: a missing or empty folder, or an
  mgl model (with ``overwrite``) holding only files an mgl model holds and unedited since it was
  saved. A folder with anything else in it, the current folder or a folder that holds it, is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mgl.errors import DataError, MGLError
from mgl.io import sha256_file, write_json_atomic
from mgl.paths import mgl_home

__all__ = [
    "MODEL_FILES",
    "check_free_space",
    "check_job_folder",
    "check_model_destination",
    "check_output_file",
    "check_shard_folder",
    "check_writable_folder",
    "expand",
    "is_mgl_model_dir",
    "model_folder_holding",
    "record_written",
    "written_by_mgl",
]

MODEL_FILES = frozenset(
    {
        "mgl_model.json",
        "checksums.json",
        "README.md",
        "model.safetensors",
        "support_embeddings.safetensors",
        "support.jsonl",
        "encoder.safetensors",
        "pooling_head.safetensors",
        "centre.safetensors",
        "head.safetensors",
        "examples.jsonl",
        "example_embeddings.safetensors",
    }
)
"""Every file an mgl model directory may hold (what :func:`mgl.model.saving.save_model` writes, both formats)."""


def expand(path: str | Path) -> Path:
    """The path as it will be used: ``~`` expanded, once, here."""
    return Path(os.path.expanduser(os.fspath(path)))


def _ledger(path: Path) -> Path:
    key = hashlib.sha256(os.fsencode(str(path))).hexdigest()
    return mgl_home() / "written" / f"{key}.json"


def _stamp(path: Path) -> dict[str, Any]:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino, "device": st.st_dev}


def record_written(path: str | Path, kind: str) -> None:
    """Record that mgl wrote ``path`` (a file, now complete) as an output of ``kind``: a later run of
    the same kind may replace it while it stays as written."""

    path = expand(path).absolute()
    with contextlib.suppress(OSError):  # the record is a convenience: without it, the next run asks for --overwrite
        write_json_atomic(_ledger(path), {"path": os.fsdecode(os.fsencode(str(path))), "kind": kind, **_stamp(path)})


def written_by_mgl(path: str | Path, kind: str) -> bool:
    """Whether mgl wrote ``path`` as an output of ``kind`` and it is unchanged since."""
    path = expand(path).absolute()
    try:
        entry = json.loads(_ledger(path).read_text(encoding="utf-8"))
        return (
            isinstance(entry, dict)
            and entry.get("path") == str(path)
            and entry.get("kind") == kind
            and {k: entry.get(k) for k in ("size", "mtime_ns", "inode", "device")} == _stamp(path)
        )
    except (OSError, ValueError):
        return False


def model_folder_holding(path: str | Path) -> Path | None:
    """The mgl model folder that ``path`` is (a folder) or lies inside, if any."""
    path = expand(path).absolute()
    for folder in (path, *path.parents):
        if folder.is_dir() and is_mgl_model_dir(folder):
            return folder
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_file(
    path: str | Path, *, kind: str, overwrite: bool = False, inputs: Iterable[str | Path] = (), option: str = "--output"
) -> Path:
    """The file ``path`` may be written by this command: not a folder, not inside an mgl model folder,
    not one of ``inputs``, and, where it exists, written by mgl as ``kind`` and unchanged since (or
    ``overwrite``); its folder writable. Returns the expanded path. Errors name the path as given."""
    given = str(path)
    path = expand(path)
    if path.is_dir():
        raise MGLError(f"{option} names a folder; give a file name", source=given)
    model = model_folder_holding(path.parent)
    if model is not None:
        raise MGLError(
            f"{option} lies inside the mgl model folder {model}: a model folder is written only by "
            "--save; give another path",
            source=given,
        )
    for item in inputs:
        if item is not None and str(item) != "-" and _same_file(path, expand(item)):
            raise MGLError(
                f"{option} is an input of this command; mgl never writes over its own input: give another name",
                source=given,
            )
    if path.exists() and not overwrite and not written_by_mgl(path, kind):
        raise MGLError(
            f"{option} exists and mgl did not write it (or it changed since); give --overwrite to "
            "replace it, or another name",
            source=given,
        )
    check_writable_folder(path.parent, what=f"folder of {option}", given=given)
    return path


def check_job_folder(
    folder: str | Path, *, manifest: str, is_manifest: Callable[..., bool], names: Iterable[str], what: str
) -> Path:
    """A folder a job (a grid) writes its files into: missing, empty, a folder of such a job (its
    ``manifest`` file passes ``is_manifest``: the job's own record of what it writes there), or one
    where none of the job's ``names`` exists yet; anything else is refused before the work, naming
    the files that would be replaced. Files of other names in the folder are never touched."""
    given = str(folder)
    path = expand(folder)
    if path.exists() and not path.is_dir():
        raise MGLError(f"the {what} exists and is not a folder", source=given)
    model = model_folder_holding(path)
    if model is not None:
        raise MGLError(f"the {what} lies inside the mgl model folder {model}; give another folder", source=given)
    if not path.is_dir():
        return path
    try:
        own = is_manifest(json.loads((path / manifest).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        own = False
    if not own:
        clash = sorted(name for name in names if (path / name).exists())
        if clash:
            raise MGLError(
                f"the {what} holds {', '.join(clash)}, which mgl did not write there (no {manifest} of "
                f"its own); mgl never overwrites what it did not write: give another folder",
                source=given,
            )
    return path


def check_shard_folder(out: str | Path, inputs: Sequence[str]) -> Path:
    """A corpus prediction's output folder (``~`` expanded) may receive shards: not inside an mgl model
    folder, not an input folder or inside one (its shards would be read as inputs by the next run).
    Whether it is new, empty or this job's own is the job's manifest's business
    (:func:`mgl.bulk.streaming.prepare_output`)."""

    given, out = str(out), expand(out)
    model = model_folder_holding(out)
    if model is not None:
        raise DataError(
            f"the output folder lies inside the mgl model folder {model}; give another folder", source=given
        )
    here = out.absolute().resolve()
    for item in inputs:
        folder = expand(item)
        if folder.is_dir() and (folder.resolve() == here or folder.resolve() in here.parents):
            raise DataError(
                f"the output folder is inside the input folder {item}; its shards would be read as "
                "input by the next run: give another folder",
                source=given,
            )
    return out


def check_free_space(folder: str | Path, need: int, *, what: str, given: str | Path | None = None) -> None:
    """Refuse, before the work, a folder whose file system has less than ``need`` bytes free."""
    folder = expand(folder)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return
    if free < need:
        raise MGLError(
            f"not enough free space for the {what}: {free / 2**20:.1f} MiB free, about {need / 2**20:.1f} MiB needed",
            source=str(given if given is not None else folder),
        )


@contextlib.contextmanager
def folders_kept_on_success(folder: str | Path) -> Iterator[Path]:
    """Within the block, ``folder`` and the ancestors that did not exist before it are mgl's own: if
    the block fails (a full disk, an error, an interrupt), each of them that is still empty is
    removed again, deepest first, so a failed run leaves no empty folder behind (a folder holding
    anything stays)."""
    path = expand(folder)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    try:
        yield path
    except BaseException:
        for created in missing:
            with contextlib.suppress(OSError):  # not empty, or gone: left as it is
                created.rmdir()
        raise


def check_writable_folder(
    folder: str | Path, *, what: str = "output folder", given: str | Path | None = None, create: bool = True
) -> Path:
    """Make sure files can be created in ``folder`` (created with its parents if missing, unless
    ``create`` is false: then its nearest existing ancestor is probed); errors name ``given`` (what
    the user typed; default ``folder``)."""
    given = str(given if given is not None else folder)
    path = expand(folder)
    if path.exists() and not path.is_dir():
        raise MGLError(f"the {what} exists and is not a folder", source=given)
    probe_in = path
    if not create:
        while not probe_in.exists() and probe_in != probe_in.parent:
            probe_in = probe_in.parent
        if not probe_in.is_dir():
            raise MGLError(f"the {what} lies under {probe_in}, which is not a folder", source=given)
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".mgl-write-probe.", dir=probe_in)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        where = "" if expand(given) == path else f" {path}"
        raise MGLError(
            f"cannot write to the {what}{where} ({exc.strerror or type(exc).__name__})", source=given
        ) from None
    return path


def is_mgl_model_dir(folder: str | Path) -> bool:
    """Whether ``folder`` holds an mgl model (an ``mgl_model.json`` of the mgl-model format)."""
    try:
        meta = json.loads((Path(folder) / "mgl_model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == "mgl-model"


def edited_model_files(folder: Path) -> list[str]:
    """The files of a saved model that differ from its ``checksums.json`` (a card or a file edited
    after saving), or that it does not list."""

    try:
        sums = json.loads((folder / "checksums.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        sums = None
    if not isinstance(sums, dict):
        return ["checksums.json"]
    edited = []
    for entry in sorted(folder.iterdir()):
        if entry.name == "checksums.json":
            continue
        digest = sums.get(entry.name)
        if not entry.is_file() or not isinstance(digest, str) or sha256_file(entry) != digest:
            edited.append(entry.name)
    return edited


def check_model_destination(folder: str | Path, *, overwrite: bool, discard_edits: bool = False) -> Path:
    """Refuse a model directory whose writing could lose something mgl did not write.

    Allowed: a missing folder (its parent must be writable, and not inside another model), an
    empty folder, or, with ``overwrite``, an mgl model folder holding only model files, each as
    saved (a card or file edited since is kept unless ``discard_edits``); it is then replaced as a
    whole, atomically. Returns the resolved path.
    """
    given = str(folder)
    path = expand(folder).resolve()
    outer = model_folder_holding(path.parent)
    if outer is not None:
        raise MGLError(
            f"cannot save a model inside the mgl model folder {outer}; name a folder of its own", source=given
        )
    cwd = Path.cwd().resolve()
    if path == cwd or path in cwd.parents:
        raise MGLError(
            "a model is saved into a folder of its own; this is the current folder (or holds it): "
            "name a new or empty folder",
            source=given,
        )
    if path.exists():
        if not path.is_dir():
            raise MGLError("cannot save a model here: it exists and is not a folder", source=given)
        entries = sorted(p.name for p in path.iterdir())
        if entries:
            if not is_mgl_model_dir(path):
                shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
                raise MGLError(
                    f"cannot save a model here: the folder is not empty and holds no mgl model "
                    f"({shown}); mgl never deletes what it did not write: name a new or empty folder",
                    source=given,
                )
            foreign = [e for e in entries if e not in MODEL_FILES]
            if foreign:
                raise MGLError(
                    f"cannot replace the mgl model here: the folder also holds files mgl did not write "
                    f"({', '.join(foreign[:5])}); move them away or name another folder",
                    source=given,
                )
            if not overwrite:
                raise MGLError("the folder holds an mgl model already; give --overwrite to replace it", source=given)
            edited = edited_model_files(path)
            if edited and not discard_edits:
                raise MGLError(
                    f"the mgl model here was changed since it was saved (not as checksums.json "
                    f"records: {', '.join(edited[:5])}); --overwrite keeps such edits: move them away, or "
                    "give --discard-edits too",
                    source=given,
                )
    check_writable_folder(path.parent, what="folder that will hold the model", given=given)
    if path.exists():
        check_writable_folder(path, what="model folder", given=given)
    return path
