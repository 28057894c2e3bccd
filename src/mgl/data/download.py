"""Fetch and unpack Webis-CLS-10 from its publisher, safely and atomically.

The corpus is the file ``cls-acl10-unprocessed.tar.gz`` of Zenodo record 3251672 (Webis group,
Bauhaus-Universität Weimar). :func:`download_webis` streams it to a temporary file beside the
destination (with a progress bar on stderr), checks it, unpacks it into a temporary folder beside
the destination with :mod:`tarfile`'s ``"data"`` filter, checks that the expected files are there,
and only then renames the folder into place: an interrupted or failed download leaves nothing
behind. No published checksum was at hand when this was written, so by default the archive is
checked structurally (a gzip tar whose members all lie inside ``cls-acl10-unprocessed/``, with
no absolute path and no ``..``, and which yields every ``{lang}/{domain}/{train,test}.review``);
pass ``md5`` to check its digest as well.

Written here rather than with ``pooch``: one archive, whose safety rules (the ``data`` tar filter,
members under one folder, the expected files present, an atomic rename) are the point of this
module, and would have to be added around pooch's fetch anyway; a new dependency for one file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from mgl.data.webis import WEBIS_DIRNAME, WEBIS_DOMAINS, WEBIS_FILES
from mgl.errors import DataError, MGLError

WEBIS_RECORD_URL = "https://zenodo.org/records/3251672"
WEBIS_URL = f"{WEBIS_RECORD_URL}/files/cls-acl10-unprocessed.tar.gz?download=1"
#: The archive's MD5 digest, where known (None: checked structurally only).
WEBIS_MD5: str | None = None
#: Language folders as the publisher names them.
WEBIS_ARCHIVE_LANGUAGES = ("en", "de", "fr", "jp")
_CHUNK = 1 << 20


def expected_webis_files() -> list[str]:
    """Paths, relative to ``cls-acl10-unprocessed``, that a complete corpus holds."""
    return [
        f"{lang}/{domain}/{name}"
        for lang in WEBIS_ARCHIVE_LANGUAGES
        for domain in WEBIS_DOMAINS
        for name in WEBIS_FILES
    ]


def missing_webis_files(folder: str | Path) -> list[str]:
    """The expected files (see :func:`expected_webis_files`) that ``folder`` lacks (``ja`` may stand for ``jp``)."""
    folder = Path(folder)
    missing = []
    for rel in expected_webis_files():
        alt = "ja" + rel[2:] if rel.startswith("jp/") else rel
        if not (folder / rel).is_file() and not (folder / alt).is_file():
            missing.append(rel)
    return missing


def _by_hand(url: str, dest: Path) -> str:
    return (
        f"download {WEBIS_DIRNAME}.tar.gz by hand from {url} (record page {WEBIS_RECORD_URL}) and unpack it into {dest}"
    )


def _fetch(url: str, target: Path, *, progress: bool, dest: Path) -> str:
    """Stream ``url`` into the file ``target``; return its MD5 hex digest."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=f"{WEBIS_DIRNAME}.tar.gz",
                disable=not progress,
                file=sys.stderr,
            ) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise MGLError(f"could not download {url}: HTTP {exc.code} {exc.reason}; {_by_hand(url, dest)}") from None
    except urllib.error.URLError as exc:
        raise MGLError(f"could not download {url}: {exc.reason}; {_by_hand(url, dest)}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, bad URLs
        raise MGLError(f"could not download {url}: {exc}; {_by_hand(url, dest)}") from None
    return digest.hexdigest()


def _member_path(name: str) -> PurePosixPath:
    """A member's path with leading ``./`` removed."""
    parts = [part for part in PurePosixPath(name).parts if part != "."]
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def check_webis_archive(archive: str | Path) -> None:
    """Refuse an archive that is not a gzip tar of ``cls-acl10-unprocessed/`` alone.

    Raises :class:`DataError` if it cannot be read as a gzip tar, has a member with an absolute
    path, a ``..`` component, or a path outside ``cls-acl10-unprocessed/``, or has a link or
    special file.
    """
    archive = Path(archive)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DataError(f"not a valid gzip tar archive ({exc})", source=archive) from None
    if not members:
        raise DataError("empty archive", source=archive)
    for number, member in enumerate(members, start=1):
        name = member.name
        path = _member_path(name)
        if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or (len(name) > 1 and name[1] == ":"):
            raise DataError(f"member {name!r} has an absolute path", source=archive, record=number)
        if ".." in path.parts or "\\" in name:
            raise DataError(f"member {name!r} leads outside the archive's folder", source=archive, record=number)
        if path.parts[:1] != (WEBIS_DIRNAME,):
            raise DataError(f"member {name!r} is not inside {WEBIS_DIRNAME}/", source=archive, record=number)
        if not (member.isfile() or member.isdir()):
            raise DataError(f"member {name!r} is a link or a special file", source=archive, record=number)


def download_webis(
    dest: str | Path,
    *,
    url: str = WEBIS_URL,
    md5: str | None = WEBIS_MD5,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Download Webis-CLS-10 and unpack it as ``dest/cls-acl10-unprocessed``; return that folder.

    If the folder already holds every expected file it is returned as it is, unless ``force``
    (which replaces it). ``url`` may be any URL urllib opens (``file://`` too); ``md5``, if given,
    must match the archive's digest. Network failures raise :class:`MGLError` with a one-line
    message saying how to download by hand; a bad archive raises :class:`DataError`. Nothing is
    left in ``dest`` on failure except what was there before.
    """
    dest = Path(dest).expanduser()
    target = dest / WEBIS_DIRNAME
    if target.is_dir() and not force and not missing_webis_files(target):
        return target
    if target.exists() and not target.is_dir():
        raise DataError(f"{target} exists and is not a folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MGLError(f"cannot create {dest}: {exc.strerror or exc}") from None

    fd, tmp_name = tempfile.mkstemp(prefix=f".{WEBIS_DIRNAME}.", suffix=".tar.gz.part", dir=dest)
    os.close(fd)
    archive = Path(tmp_name)
    unpack_dir: Path | None = None
    try:
        digest = _fetch(url, archive, progress=progress, dest=dest)
        if md5 is not None and digest.lower() != md5.strip().lower():
            raise DataError(
                f"MD5 {digest} does not match the expected {md5.strip().lower()}; {_by_hand(url, dest)}", source=url
            )
        check_webis_archive(archive)
        unpack_dir = Path(tempfile.mkdtemp(prefix=f".{WEBIS_DIRNAME}.", suffix=".unpack", dir=dest))
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(unpack_dir, filter="data")
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise DataError(f"cannot unpack the archive ({exc})", source=url) from None
        unpacked = unpack_dir / WEBIS_DIRNAME
        missing = missing_webis_files(unpacked)
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise DataError(f"the archive lacks {len(missing)} expected file(s): {shown}", source=url)
        _move_into_place(unpacked, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            archive.unlink()
        if unpack_dir is not None:
            shutil.rmtree(unpack_dir, ignore_errors=True)
    return target


def _move_into_place(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an existing ``target`` is set aside first and removed after."""
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)) / target.name
        os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)
