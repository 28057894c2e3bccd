"""Load a dataset by name (``webis-cls-10``, ``paws-x``, ``sib-200``), from a file or from a table in
memory (a pandas DataFrame, a ``datasets.Dataset``), and count what it holds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mgl.data.examples import SPLITS, Example
from mgl.data.frames import examples_to_frame, is_table, table_name, table_parquet
from mgl.data.pawsx import PAWSX_DIRNAME, load_pawsx
from mgl.data.records import MAX_TEXT_CHARS, stdin_bytes
from mgl.data.sib200 import SIB200_DIRNAME, load_sib200
from mgl.data.user_files import COLUMN_ROLES, load_table, parse_columns, parse_label_map
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
STDIN_HELP = " - reads standard input (with --format)."
"""What the ``mgl data`` commands add: ``-`` is standard input (:func:`load_dataset`)."""
_FOLDERS = {"webis-cls-10": WEBIS_DIRNAME, "paws-x": PAWSX_DIRNAME, "sib-200": SIB200_DIRNAME}


def default_data_root() -> Path:
    """Where ``mgl data download`` puts data sets by default: ``$MGL_HOME/data``."""
    return mgl_home() / "data"


def load_dataset(
    name_or_path: Any,
    *,
    root: str | Path | None = None,
    as_frame: bool = False,
    columns: str | Mapping[str, str] | None = None,
    labels: str | Mapping[str, str | None] | None = None,
    **options: Any,
) -> Any:
    """Load a named dataset, a CSV/TSV/JSONL/Parquet file, or a table in memory as examples.

    ``"webis-cls-10"`` is read by :func:`mgl.data.webis.load_webis` (options ``languages``,
    ``domains``, ``splits``), ``"paws-x"`` by :func:`mgl.data.pawsx.load_pawsx` and ``"sib-200"`` by
    :func:`mgl.data.sib200.load_sib200` (options ``languages``, ``splits``), from ``root`` (the
    dataset's folder or the folder holding it; default :func:`default_data_root`). Names are
    case-insensitive. A pandas DataFrame, a Hugging Face ``datasets.Dataset`` or a pyarrow Table is
    read as a Parquet file would be (:mod:`mgl.data.frames`); ``"-"`` is standard input, in the
    format ``fmt`` names. Any other value is a file path
    (relative paths are taken from ``root`` if given). Files and tables are read by
    :func:`mgl.data.user_files.load_table` with ``options`` as its keyword arguments.

    The command line's names work too: ``columns`` as ``--columns`` (``"text=review,label=stars"``
    or a dict of role to column), ``labels`` as ``--labels`` (``"1=negative,2=negative,3="`` or a
    dict), and then ``language`` as ``--language`` (the language of every record), ``fmt`` as
    ``--format``, ``encoding`` and ``keep_regions``. Without ``columns``, ``text=``, ``label=``,
    ``language=`` ... name the columns, as :func:`~mgl.data.user_files.load_table` takes them.

    ``as_frame=True`` gives a pandas DataFrame of the examples (:func:`mgl.data.frames.examples_to_frame`)
    instead of a list of :class:`~mgl.data.examples.Example`.
    """
    named = str(name_or_path).strip().lower() if isinstance(name_or_path, (str, Path)) else None
    if named in DATASETS and (columns is not None or labels is not None):
        given = [k for k, v in (("columns", columns), ("labels", labels)) if v is not None]
        raise ConfigError(f"{named} takes the options {list(DATASETS[named])}, not {given}: they apply to files")
    if columns is not None:
        mapping = dict(columns) if isinstance(columns, Mapping) else parse_columns(columns)
        unknown = sorted(set(mapping) - set(COLUMN_ROLES))
        if unknown:
            raise ConfigError(f"unknown column role(s) {unknown}; expected some of {list(COLUMN_ROLES)}")
        if "language" in options:  # with --columns, --language is the language of every record
            options["fixed_language"] = options.pop("language")
        options = {**mapping, **options}
    if labels is not None:
        options["label_map"] = dict(labels) if isinstance(labels, Mapping) else parse_label_map(labels)
    examples = _load(name_or_path, root, options)
    return examples_to_frame(examples) if as_frame else examples


def _load(name_or_path: Any, root: str | Path | None, options: dict[str, Any]) -> list[Example]:
    if is_table(name_or_path):
        if root is not None:
            raise ConfigError("root applies to data sets and files, not to a table in memory")
        return load_table(table_name(name_or_path), fmt="parquet", data=table_parquet(name_or_path), **options)
    if isinstance(name_or_path, str) and name_or_path == "-":  # standard input, in the format named
        if root is not None:
            raise ConfigError("root applies to data sets and files, not to standard input")
        fmt = options.pop("fmt", None)
        if fmt is None:
            raise ConfigError("standard input needs its format: give --format csv, tsv or jsonl")
        return load_table("<stdin>", fmt=fmt, data=stdin_bytes(), **options)
    if not isinstance(name_or_path, (str, Path)):
        raise ConfigError(
            f"load_dataset takes a data set name, a file path, a pandas DataFrame, a datasets.Dataset or a "
            f"pyarrow Table, not {type(name_or_path).__name__}"
        )
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
