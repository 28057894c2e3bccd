"""Load a dataset by name (``webis-cls-10``, ``paws-x``, ``sib-200``) or from a file, and count what it holds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mgl.data.examples import SPLITS, Example
from mgl.data.pawsx import PAWSX_DIRNAME, load_pawsx
from mgl.data.records import MAX_TEXT_CHARS
from mgl.data.sib200 import SIB200_DIRNAME, load_sib200
from mgl.data.tabular import load_table
from mgl.data.webis import WEBIS_DIRNAME, load_webis
from mgl.errors import ConfigError, DataError
from mgl.paths import mgl_home

#: Named datasets and the keyword options their loaders take.
DATASETS: dict[str, tuple[str, ...]] = {
    "webis-cls-10": ("languages", "domains", "splits"),
    "paws-x": ("languages", "splits"),
    "sib-200": ("languages", "splits"),
}
DATA_HELP = f"{', '.join(DATASETS)}, or a CSV/TSV/JSONL/Parquet file (each text at most {MAX_TEXT_CHARS:,} characters)."
"""What ``--data`` (and ``mgl data``'s argument) accepts, for every command's help: generated from
:data:`DATASETS` and the reader's limit, so the help cannot drift from what is read."""
_FOLDERS = {"webis-cls-10": WEBIS_DIRNAME, "paws-x": PAWSX_DIRNAME, "sib-200": SIB200_DIRNAME}


def default_data_root() -> Path:
    """Where ``mgl data download`` puts data sets by default: ``$MGL_HOME/data``."""
    return mgl_home() / "data"


def load_dataset(name_or_path: str | Path, *, root: str | Path | None = None, **options: Any) -> list[Example]:
    """Load a named dataset or a CSV/TSV/JSONL file as examples.

    ``"webis-cls-10"`` is read by :func:`mgl.data.webis.load_webis` (options ``languages``,
    ``domains``, ``splits``) and ``"paws-x"`` by :func:`mgl.data.pawsx.load_pawsx` (options
    ``languages``, ``splits``), from ``root`` (the dataset's folder or the folder holding it;
    default :func:`default_data_root`). Names are case-insensitive. Any other value is a file
    path (relative paths are taken from ``root`` if given) read by
    :func:`mgl.data.tabular.load_table` with ``options`` as its keyword arguments.
    """
    name = str(name_or_path).strip().lower()
    if name in DATASETS:
        unknown = sorted(set(options) - set(DATASETS[name]))
        if unknown:
            raise ConfigError(f"{name} takes the options {list(DATASETS[name])}, not {unknown}")
        options = {key: value for key, value in options.items() if value is not None}
        folder = Path(root).expanduser() if root is not None else default_data_root()
        if not folder.exists():
            hint = " (or run 'mgl data download webis-cls-10')" if name == "webis-cls-10" else ""
            raise DataError(f"no {name} data here: point the root at the {_FOLDERS[name]} folder{hint}", source=folder)
        if name == "webis-cls-10":
            return load_webis(folder, **options)
        if name == "sib-200":
            return load_sib200(folder, **options)
        return load_pawsx(folder, **options)
    path = Path(name_or_path).expanduser()
    if root is not None and not path.is_absolute():
        path = Path(root).expanduser() / path
    if not path.exists():
        raise DataError(f"not a known dataset ({', '.join(DATASETS)}) nor an existing file", source=path)
    return load_table(path, **options)


def stats_rows(examples: Iterable[Example]) -> list[dict[str, Any]]:
    """Counts of examples per (language, domain, split, label), as rows sorted by those keys.

    Each row is ``{"language", "domain", "split", "label", "count"}`` (``domain`` may be None);
    splits sort in the order train, validation, test.
    """
    counts = Counter((ex.language, ex.domain, ex.split, ex.label) for ex in examples)
    rank = {name: i for i, name in enumerate(SPLITS)}

    def key(item: tuple[tuple[str, str | None, str | None, str], int]) -> tuple:
        language, domain, split, label = item[0]
        return (language, domain or "", rank.get(split or "", len(SPLITS)), split or "", label)

    return [
        {"language": language, "domain": domain, "split": split, "label": label, "count": count}
        for (language, domain, split, label), count in sorted(counts.items(), key=key)
    ]
