"""A user's own labelled data from a CSV, TSV, JSON Lines or Parquet file.

Files are read by the one reader of every input, :class:`mgl.data.records.RecordReader`: its
docstring gives the rules (CSV quoting, TSV's quoted fields, encodings, line breaks, blank lines,
record numbers), which ``mgl predict`` follows too, so a file is the same records to training and
to prediction. Texts are kept as written (nothing is stripped); labels, languages, splits, domains
and ids are stripped of surrounding spaces. Every error is a :class:`~mgl.errors.DataError` naming
the file and, where there is one, the record (the line it starts on; a Parquet row).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mgl.data.examples import SPLITS, UNLABELLED, Example
from mgl.data.languages import SpellingNotes, canonical_language
from mgl.data.records import RecordReader, file_format, record_id, scalar_value, text_value
from mgl.errors import ConfigError, DataError

TABLE_FORMATS = ("csv", "tsv", "jsonl", "parquet")
#: The roles a column can play; ``parse_columns`` accepts these keys.
COLUMN_ROLES = ("text", "label", "text_pair", "language", "domain", "split", "uid")
#: Spellings of split names accepted in a split column.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "unlabelled": UNLABELLED,
    "unlabeled": UNLABELLED,
}


def table_format(path: str | Path, fmt: str | None = None) -> str:
    """``fmt`` if given, else the format named by the file's suffix (the reader's one suffix table)."""
    return file_format(path, fmt, allowed=TABLE_FORMATS)


def parse_label_map(spec: str) -> dict[str, str | None]:
    """Parse a label map as a command line takes it: ``"1=negative,2=negative,3=,4=positive"``.

    Raw values and labels are stripped of spaces; an empty label (``3=``) drops the records with
    that raw value. Raw values and labels cannot contain ``,`` or ``=``.
    """
    mapping: dict[str, str | None] = {}
    for item in spec.split(","):
        if not item.strip():
            continue
        raw, sep, label = item.partition("=")
        raw, label = raw.strip(), label.strip()
        if not sep or not raw or "=" in label:
            raise ConfigError(f"bad label map entry {item.strip()!r}: expected RAW=LABEL (or RAW= to drop)")
        if raw in mapping:
            raise ConfigError(f"label map gives raw value {raw!r} twice")
        mapping[raw] = label or None
    if not mapping:
        raise ConfigError(f"empty label map {spec!r}")
    return mapping


def parse_columns(spec: str) -> dict[str, str]:
    """Parse a column map as a command line takes it: ``"text=review,label=stars,language=lang"``.

    Keys are roles among ``text``, ``label``, ``text_pair``, ``language``, ``domain``, ``split``,
    ``uid``; values are the file's column names. The result can be passed to :func:`load_table`
    as keyword arguments.
    """
    columns: dict[str, str] = {}
    for item in spec.split(","):
        if not item.strip():
            continue
        role, sep, column = item.partition("=")
        role, column = role.strip(), column.strip()
        if not sep or not column:
            raise ConfigError(f"bad column map entry {item.strip()!r}: expected ROLE=COLUMN")
        if role not in COLUMN_ROLES:
            raise ConfigError(f"unknown column role {role!r} in {item.strip()!r}; expected one of {list(COLUMN_ROLES)}")
        if role in columns:
            raise ConfigError(f"column map gives role {role!r} twice")
        columns[role] = column
    return columns


def _field(row: Mapping[str, Any], column: str, path: Path, record: int) -> str | None:
    """A code-like value of a record (label, language, split, domain, uid), stripped; None for null."""
    return scalar_value(row, column, source=path, record=record)


def load_table(
    path: str | Path,
    *,
    text: str = "text",
    label: str | None = "label",
    text_pair: str | None = None,
    language: str | None = None,
    fixed_language: str | None = None,
    domain: str | None = None,
    split: str | None = None,
    fixed_split: str = "train",
    uid: str | None = None,
    label_map: Mapping[str, str | None] | None = None,
    fmt: str | None = None,
    encoding: str | None = None,
    keep_regions: bool = False,
    data: bytes | None = None,
) -> list[Example]:
    """Load labelled examples from a CSV, TSV, JSONL or Parquet file (see the module docstring for formats).

    ``text``, ``label``, ``text_pair``, ``language``, ``domain``, ``split`` and ``uid`` name the
    columns (JSON keys) that hold each field; ``text_pair``, ``domain`` and ``uid`` are optional.
    The language comes from the ``language`` column, else from ``fixed_language`` for every
    record; with neither, a column named ``language`` is used if the file has one. The split comes
    from the ``split`` column, else from a column named ``split`` if the file has one, else it is
    ``fixed_split`` (``"train"``) for every record; split values may also be spelled ``dev``,
    ``valid``, ``val`` or ``training``. ``uid`` defaults to ``"{file name}#{record}"``.

    Labels are the raw values stripped of spaces, or, with ``label_map``, their mapped names: a
    raw value mapped to ``None`` drops its record (e.g. 3-star reviews; a dropped record is not
    checked further) and a raw value missing from the map is an error. ``fmt`` (``csv``, ``tsv``,
    ``jsonl``, ``parquet``) overrides the suffix; ``encoding`` names a text file's encoding (default:
    UTF-8, or UTF-16 detected by its byte-order mark). Language codes become canonical tags, a region
    subtag folded into its language unless ``keep_regions`` (:mod:`mgl.data.languages`); one notice
    per file names the spellings read as one language. ``data``: the file's bytes, read in place of
    ``path``, which then only names the source (a table in memory, :mod:`mgl.data.frames`).

    A record with an empty label is an unlabelled text (:meth:`mgl.data.examples.Example.unlabelled`,
    split ``unlabelled``, as is a split value ``unlabelled``); ``label=None`` reads every record so
    (a file of unlabelled texts). A validation or test row needs its label.

    Raises :class:`DataError` naming the file and the 1-based record for: a missing column, an
    empty text or text pair, a validation or test row without a label, a NaN or unknown label, a language that is not a language code
    (any spelling :func:`mgl.data.languages.canonical_language` knows), an unknown split, a malformed row or JSON line, and bytes that are not UTF-8.
    """
    path = Path(path)
    fmt = table_format(path, fmt)
    if language is not None and fixed_language is not None:
        raise ConfigError("give either a language column or a fixed language, not both")
    if fixed_language is not None:
        fixed_language = canonical_language(fixed_language, keep_regions=keep_regions)
    fixed_split = SPLIT_ALIASES.get(fixed_split.strip().lower(), fixed_split)
    if fixed_split not in SPLITS:
        raise ConfigError(f"unknown split {fixed_split!r}; expected one of {list(SPLITS)}")
    reader = RecordReader(path, fmt, encoding=encoding, data=data)
    header = reader.header
    records = ((r.number, r.values) for r in reader.records())
    # Default columns: "language" (required when no fixed language) and "split" (if present).
    if language is None and fixed_language is None:
        if header is not None and "language" not in header:
            raise DataError(
                "no language: the file has no 'language' column; name the language column or give a fixed language",
                source=path,
            )
        language = "language"
    auto_split = split is None
    if auto_split and header is not None and "split" in header:
        split, auto_split = "split", False
    if header is not None:
        needed = [text] + [c for c in (label, text_pair, language, domain, split, uid) if c is not None]
        missing = [c for c in dict.fromkeys(needed) if c not in header]
        if missing:
            raise DataError(f"missing column(s) {missing}; the header has {header}", source=path)

    examples: list[Example] = []
    spellings = SpellingNotes(path)
    n_records = 0
    for record, row in records:
        n_records += 1

        raw_label = _field(row, label, path, record) if label is not None else None
        label_value = ""  # empty: an unlabelled text
        if raw_label is not None and raw_label != "":
            if raw_label.lower() == "nan":
                raise DataError(f"label is NaN (column {label!r})", source=path, record=record)
            if label_map is not None:
                if raw_label not in label_map:
                    known = ", ".join(repr(k) for k in label_map)
                    raise DataError(
                        f"unknown label {raw_label!r} (column {label!r}; the label map knows {known})",
                        source=path,
                        record=record,
                    )
                mapped = label_map[raw_label]
                if mapped is None:
                    continue
                label_value = mapped
            else:
                label_value = raw_label

        text_field = text_value(row, text, source=path, record=record)
        pair_value = None
        if text_pair is not None:
            pair_value = text_value(row, text_pair, source=path, record=record, role="text pair")

        if fixed_language is not None:
            lang_value = fixed_language
        else:
            assert language is not None
            spelling = _field(row, language, path, record) or ""
            lang_value = canonical_language(
                spelling, source=path, record=record, where=f" (column {language!r})", keep_regions=keep_regions
            )
            spellings.add(spelling, lang_value)

        if auto_split and not (header is None and "split" in row):
            split_value = fixed_split
        else:
            raw_split = _field(row, split or "split", path, record) or ""
            split_value = SPLIT_ALIASES.get(raw_split.lower(), "")
            if not split_value:
                raise DataError(
                    f"unknown split {raw_split!r}; expected one of {[*SPLITS, UNLABELLED]}", source=path, record=record
                )
        if not label_value:
            if split_value in ("validation", "test"):
                raise DataError(
                    f"missing label (column {label!r}): a {split_value} row needs its label (an unlabelled "
                    "text belongs to the training split, or to the split 'unlabelled')",
                    source=path,
                    record=record,
                )
            split_value = UNLABELLED
        elif split_value == UNLABELLED:
            raise DataError(
                f"the split says 'unlabelled' but the row has the label {label_value!r}", source=path, record=record
            )

        domain_value = (_field(row, domain, path, record) or None) if domain is not None else None
        uid_value = record_id(row, uid, source=path, record=record) if uid is not None else None
        examples.append(
            Example(
                text=text_field,
                label=label_value,
                language=lang_value,
                text_pair=pair_value,
                domain=domain_value,
                split=split_value,
                # default ids number CSV/TSV records by row (as they always have), others by line/row
                uid=uid_value or f"{path.name}#{n_records if fmt in ('csv', 'tsv') else record}",
            )
        )
    if n_records == 0:
        raise DataError("holds no records", source=path)
    spellings.report()
    return examples
