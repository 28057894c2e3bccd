"""A user's own labelled data from a CSV, TSV, JSON Lines or Parquet file.

* CSV: comma-separated with a header row, quoted as the :mod:`csv` module's default dialect
  (``"..."`` around fields holding commas, quotes or newlines).
* TSV: tab-separated with a header row and **no quoting** (``csv.QUOTE_NONE``), as TSV files
  such as PAWS-X are written: quotes are ordinary characters and a field cannot hold a tab or a
  newline.
* JSONL: one JSON object per line; blank lines are skipped.
* Parquet: one record per row, read with pyarrow; columns are mapped exactly as CSV columns.

Text files are read as UTF-8 (a leading byte-order mark is ignored), or as UTF-16 when they
start with a UTF-16 byte-order mark (as Excel and Windows tools save "Unicode text"); any other
encoding is named with ``encoding`` (``--encoding`` on the command line, e.g. ``cp1252``,
``shift_jis``). Records are numbered from 1: for CSV and TSV the n-th data row after the header
(blank rows are skipped and not counted), for JSONL the line number, for Parquet the row. Every error is a :class:`~mgl.errors.DataError` naming the file and,
where there is one, the record.
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

from mgl.data.examples import SPLITS, Example
from mgl.errors import ConfigError, DataError, check_text

TABLE_FORMATS = ("csv", "tsv", "jsonl", "parquet")
#: The roles a column can play; ``parse_columns`` accepts these keys.
COLUMN_ROLES = ("text", "label", "text_pair", "language", "domain", "split", "uid")
_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                   ".parquet": "parquet", ".pq": "parquet"}
#: Spellings of split names accepted in a split column.
SPLIT_ALIASES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                 "val": "validation", "dev": "validation", "test": "test"}
_ISO_639_1 = re.compile(r"[a-z]{2}")


def table_format(path: str | Path, fmt: str | None = None) -> str:
    """``fmt`` if given, else the format named by the file's suffix (``.csv``, ``.tsv``/``.tab``, ``.jsonl``/``.ndjson``)."""
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in TABLE_FORMATS:
            raise ConfigError(f"unknown table format {fmt!r}; expected one of {list(TABLE_FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        raise DataError(
            f"cannot tell the format from the suffix {suffix or '(none)'!r}: name the file .csv, .tsv, .jsonl or "
            ".parquet",
            source=path,
        )
    return _SUFFIX_FORMATS[suffix]


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


class _Position:
    """Where a reader is, for the line decoder's error messages: records done, header or not."""

    def __init__(self, in_header: bool) -> None:
        self.in_header = in_header
        self.done = 0


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _split_lines(text: str) -> list[str]:
    """Lines with their endings, broken at \\n, \\r\\n and \\r only (as bytes.splitlines does)."""
    lines, start = [], 0
    for match in _LINE_BREAK.finditer(text):
        lines.append(text[start:match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def detect_encoding(data: bytes, encoding: str | None = None) -> str:
    """The codec a file's bytes are read with: ``encoding`` if given, else UTF-16 when the data
    starts with a UTF-16 byte-order mark, else UTF-8 (a UTF-8 byte-order mark is skipped)."""
    if encoding is not None:
        return encoding
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8-sig"


def _decoded_lines(path: Path, data: bytes, position: _Position | None,
                   encoding: str | None = None) -> Iterator[tuple[int, str]]:
    """(1-based line number, line with its ending) of ``data``; bad bytes raise DataError
    naming the record given by ``position`` (or the line number when ``position`` is None).

    UTF-8 (the default) is decoded line by line, so an error names the record it is in; other
    encodings are decoded whole, and an error names the line."""
    codec = detect_encoding(data, encoding)
    if encoding is None and codec == "utf-8-sig" and b"\x00" in data[:4096]:
        even, odd = data[:4096:2].count(0), data[1:4096:2].count(0)
        guess = "utf-16-le" if odd > even else "utf-16-be"
        raise DataError(f"holds NUL bytes: it looks like UTF-16 without a byte-order mark ({guess}?); re-save it as "
                        f"UTF-8, or give its encoding with --encoding {guess}", source=path)
    if codecs.lookup(codec).name not in ("utf-8", "utf-8-sig"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            line = data[:exc.start].decode(codec, errors="replace").count("\n") + 1
            raise DataError(f"not valid {codec}: byte 0x{data[exc.start]:02x} at line {line} "
                            "(give the file's encoding with --encoding)", source=path) from None
        if text.startswith("\ufeff"):
            text = text[1:]
        yield from enumerate(_split_lines(text), start=1)
        return
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    for lineno, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            yield lineno, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at line {lineno}, column {exc.start + 1} "
                "(re-save the file as UTF-8, or give its encoding with --encoding)",
                source=path,
                record=None if position is not None and position.in_header else lineno,
            ) from None


def _parquet_records(path: Path) -> tuple[list[str], Records]:
    """The columns of a Parquet file and its (row number, row) pairs."""
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise DataError("reading Parquet needs pyarrow (pip install pyarrow)", source=path) from None
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise DataError("file not found", source=path) from None
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError ... for a damaged file
        raise DataError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", source=path) from None
    header = list(table.column_names)
    if table.num_rows == 0:
        raise DataError("holds no records", source=path)

    def rows() -> Records:
        for start in range(0, table.num_rows, 10_000):
            for offset, row in enumerate(table.slice(start, 10_000).to_pylist()):
                yield start + offset + 1, row

    return header, rows()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", source=path) from None
    except IsADirectoryError:
        raise DataError("is a folder, expected a file", source=path) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", source=path) from None


Records = Iterator[tuple[int, dict[str, Any]]]


def _open_delimited(path: Path, data: bytes, fmt: str, encoding: str | None = None) -> tuple[list[str], Records]:
    """The header of a CSV/TSV file and an iterator over its (line number, row) pairs: a record is
    named by the line it ends on (line 1 is the header), as in every other message of mgl."""
    position = _Position(in_header=True)
    lines = (line for _, line in _decoded_lines(path, data, position, encoding))
    if fmt == "tsv":
        reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE, strict=True)
    else:
        reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise DataError(f"cannot parse the header: {exc}", source=path) from None
    if not header:
        raise DataError("empty file (no header row)", source=path)
    header = [name.strip() for name in header]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise DataError(f"duplicate column(s) {duplicated} in the header", source=path)
    position.in_header = False

    def rows() -> Records:
        while True:
            try:
                row = next(reader, None)
            except csv.Error as exc:
                raise DataError(f"cannot parse: {exc}", source=path, record=reader.line_num) from None
            if row is None:
                return
            if not row:  # a blank line
                continue
            position.done += 1
            if len(row) != len(header):
                raise DataError(
                    f"has {len(row)} field(s), the header has {len(header)}", source=path, record=reader.line_num
                )
            yield reader.line_num, dict(zip(header, row))

    return header, rows()


def _jsonl_records(path: Path, data: bytes, encoding: str | None = None) -> Records:
    """(line number, object) for each non-blank line of a JSON Lines file."""
    for lineno, line in _decoded_lines(path, data, None, encoding):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON: {exc.msg} (column {exc.colno})", source=path, record=lineno) from None
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}", source=path, record=lineno)
        yield lineno, obj


def _scalar(value: Any, column: str, path: Path, record: int) -> str | None:
    """A cell as a string: JSON numbers and booleans are written as JSON would, null is None.

    NaN raises :class:`DataError`; integral floats are written without ``.0`` (``4.0`` -> ``"4"``).
    """
    if value is None:
        return value
    if isinstance(value, str):
        check_text(value, what=f"value of {column!r}", source=path, record=record)
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise DataError(f"value of {column!r} is NaN", source=path, record=record)
        return str(int(value)) if value.is_integer() else repr(value)
    raise DataError(
        f"value of {column!r} is a {type(value).__name__}, expected a string or a number", source=path, record=record
    )


def _field(row: Mapping[str, Any], column: str, path: Path, record: int) -> str | None:
    """The stripped string value of ``column`` in a record (None for a JSON null)."""
    if column not in row:
        raise DataError(f"no field {column!r}", source=path, record=record)
    value = _scalar(row[column], column, path, record)
    return value.strip() if value is not None else None


def load_table(
    path: str | Path,
    *,
    text: str = "text",
    label: str = "label",
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
    UTF-8, or UTF-16 detected by its byte-order mark).

    Raises :class:`DataError` naming the file and the 1-based record for: a missing column, an
    empty text or text pair, a missing, NaN or unknown label, a language that is not a two-letter
    ISO 639-1 code, an unknown split, a malformed row or JSON line, and bytes that are not UTF-8.
    """
    path = Path(path)
    fmt = table_format(path, fmt)
    if language is not None and fixed_language is not None:
        raise ConfigError("give either a language column or a fixed language, not both")
    if fixed_language is not None:
        fixed_language = fixed_language.strip().lower()
        if not _ISO_639_1.fullmatch(fixed_language):
            raise ConfigError(f"language {fixed_language!r} is not a two-letter ISO 639-1 code")
    fixed_split = SPLIT_ALIASES.get(fixed_split.strip().lower(), fixed_split)
    if fixed_split not in SPLITS:
        raise ConfigError(f"unknown split {fixed_split!r}; expected one of {list(SPLITS)}")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ConfigError(f"unknown text encoding {encoding!r}") from None

    header: list[str] | None = None
    if fmt == "parquet":
        if not path.exists():
            raise DataError("file not found", source=path)
        header, records = _parquet_records(path)
    elif fmt == "jsonl":
        records = _jsonl_records(path, _read_bytes(path), encoding)
    else:
        header, records = _open_delimited(path, _read_bytes(path), fmt, encoding)
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
        needed = [text, label] + [c for c in (text_pair, language, domain, split, uid) if c is not None]
        missing = [c for c in dict.fromkeys(needed) if c not in header]
        if missing:
            raise DataError(f"missing column(s) {missing}; the header has {header}", source=path)

    examples: list[Example] = []
    n_records = 0
    for record, row in records:
        n_records += 1

        raw_label = _field(row, label, path, record)
        if raw_label is None or raw_label == "":
            raise DataError(f"missing label (column {label!r})", source=path, record=record)
        if raw_label.lower() == "nan":
            raise DataError(f"label is NaN (column {label!r})", source=path, record=record)
        if label_map is not None:
            if raw_label not in label_map:
                known = ", ".join(repr(k) for k in label_map)
                raise DataError(f"unknown label {raw_label!r} (column {label!r}; the label map knows {known})",
                                source=path, record=record)
            mapped = label_map[raw_label]
            if mapped is None:
                continue
            label_value = mapped
        else:
            label_value = raw_label

        text_value = _field(row, text, path, record)
        if not text_value:
            raise DataError(f"empty text (column {text!r})", source=path, record=record)
        pair_value = None
        if text_pair is not None:
            pair_value = _field(row, text_pair, path, record)
            if not pair_value:
                raise DataError(f"empty text pair (column {text_pair!r})", source=path, record=record)

        if fixed_language is not None:
            lang_value = fixed_language
        else:
            assert language is not None
            lang_value = (_field(row, language, path, record) or "").lower()
            if not _ISO_639_1.fullmatch(lang_value):
                raise DataError(f"language {lang_value!r} (column {language!r}) is not a two-letter ISO 639-1 code",
                                source=path, record=record)

        if auto_split and not (header is None and "split" in row):
            split_value = fixed_split
        else:
            raw_split = _field(row, split or "split", path, record) or ""
            split_value = SPLIT_ALIASES.get(raw_split.lower(), "")
            if not split_value:
                raise DataError(f"unknown split {raw_split!r}; expected one of {list(SPLITS)}",
                                source=path, record=record)

        domain_value = (_field(row, domain, path, record) or None) if domain is not None else None
        uid_value = (_field(row, uid, path, record) or None) if uid is not None else None
        examples.append(
            Example(
                text=text_value,
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
    return examples
