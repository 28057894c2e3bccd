"""The one reader of every input file: CSV, TSV, JSON Lines, Parquet and plain text, into records.

Training (:func:`mgl.data.user_files.load_table`), ``mgl data stats``, ``mgl predict`` (standard
input, one file, a folder), the bulk planner and its workers all read through
:class:`RecordReader`, so a file is the same records, in the same order, with the same numbers
and the same messages, whichever command reads it. The rules:

* **Formats** by suffix (:data:`SUFFIXES`): ``.csv``; ``.tsv``/``.tab``; ``.jsonl``/``.ndjson``/
  ``.json``; ``.parquet``/``.pq``; ``.txt``. ``fmt`` overrides the suffix.
* **Encodings**: UTF-8 (a leading byte-order mark is skipped), or UTF-16 when the file starts with
  a UTF-16 byte-order mark; any other is named with ``encoding`` (``--encoding``). A file with NUL
  bytes read as UTF-8 (UTF-16 without its mark) is refused with the likely encoding.
* **Lines** end at ``\\n`` or ``\\r\\n`` only. A lone ``\\r``, form feed, ``\\x85``, U+2028 and
  U+2029 are characters inside a line, never a record break. A line is at most
  :data:`MAX_LINE_BYTES` long.
* **Blank lines** (empty or only white space) outside a quoted CSV field are not records.
* **CSV**: RFC 4180 as Python's :mod:`csv` reads it, strictly: a field holding a comma, a quote
  or a line break is quoted ``"..."`` with ``""`` for a quote; text after a closing quote, or a
  quote never closed, is an error naming the record.
* **TSV**: tab-separated, one record per line (a field never holds a tab or a line break). A field
  that starts and ends with a double quote and has every quote inside doubled is quoted the way
  pandas, Python's :mod:`csv` and spreadsheets write TSV (SIB-200 and PAWS-X are written so): its
  outer quotes are removed and each ``""`` becomes ``"``. Every other quote is an ordinary
  character, kept as written (``"Great" book``, ``"Unclosed start``, ``row "four"``): such a
  file is ambiguous under a quoting rule, so one notice per file names the first record that
  holds one, and rows are never merged.
* **JSON Lines**: one JSON object per line (raw control characters inside strings are accepted).
* **Parquet**: one record per row, read by row group.
* **Text**: one text per line, in the field ``text``.
* **Numbers**: a record is named by the line it starts on (the header is line 1), a Parquet
  record by its row counted from 1. Every error is a :class:`~mgl.errors.DataError` naming the
  file and, where there is one, the record.
* **Values** come as written: nothing is stripped or converted (see :func:`text_value` and
  :func:`scalar_value` for what a field may hold).
* **Length**: a text (and a pair text) is at most :data:`MAX_TEXT_CHARS` (100,000) characters, on
  every path (training, ``mgl data validate``/``stats``, ``mgl predict``); a longer one is an error
  naming the record and the limit. A CSV field may be as long as a line.

Written here rather than on ``pyarrow.csv`` or pandas: both accept the rows these rules refuse
(text after a closing quote, a quote never closed, mistyped fields), split lines at U+2028 and
lone ``\r`` and count records their own way, so errors could not name the same record on every
path; Parquet itself is read by pyarrow.

Memory is bounded: text files are read a line at a time, Parquet a batch at a time. A reader can
start at a record (``start``), and, for UTF-8 text files, seek to where it begins
(:class:`Mark`, recorded by a first pass), which is how a worker reads its shard.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, overload

from mgl.errors import ConfigError, DataError, check_text

__all__ = [
    "FORMATS",
    "MAX_LINE_BYTES",
    "MAX_TEXT_CHARS",
    "SUFFIXES",
    "Mark",
    "Record",
    "RecordReader",
    "file_format",
    "record_id",
    "scalar_value",
    "stdin_bytes",
    "text_value",
]

FORMATS = ("csv", "tsv", "jsonl", "parquet", "txt")
#: The one suffix table of every reader.
SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "txt",
}
MAX_LINE_BYTES = 16 << 20
"""The longest line read (16 MiB): a longer one is refused rather than read into memory whole."""
MAX_TEXT_CHARS = 100_000
"""The longest text (or pair text) any command reads, in characters: an encoder reads its first few
hundred tokens, so a longer text is almost always a column mix-up or a whole document in one field."""
TXT_FIELD = "text"
_LOG = logging.getLogger("mgl")
_NOTICED: set[tuple[str, str]] = set()  # (file, notice): each said once per process


def file_format(path: str | Path, fmt: str | None = None, *, allowed: Sequence[str] = FORMATS) -> str:
    """``fmt`` if given, else the format the suffix names; either must be one of ``allowed``."""
    if fmt is not None:
        fmt = fmt.strip().lower()
        if fmt not in allowed:
            raise ConfigError(f"unknown format {fmt!r}; expected one of {list(allowed)}")
        return fmt
    found = SUFFIXES.get(Path(path).suffix.lower())
    if found is None or found not in allowed:
        names = ", ".join(s for s, f in SUFFIXES.items() if f in allowed)
        suffix = Path(path).suffix or "(none)"
        raise DataError(f"unknown input format {suffix!r}: name the file {names} (or give --format)", source=path)
    return found


@dataclass(frozen=True)
class Mark:
    """Where a record starts: its position among the file's records (0-based), its number (the
    line it starts on) and the byte offset of that line (None where the encoding does not allow
    seeking: the reader then reads from the top)."""

    index: int
    number: int
    offset: int | None


@dataclass(frozen=True)
class Record:
    """One record: its number (line or row, from 1), its position among the file's records
    (0-based), where it starts, and its fields."""

    number: int
    index: int
    mark: Mark
    values: dict[str, Any]


def _content(line: str) -> str:
    """A line without its ending (``\\n`` or ``\\r\\n``)."""
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith("\n"):
        return line[:-1]
    return line


def _is_blank(line: str) -> bool:
    return not line.strip()


def _tsv_fields(line: str) -> tuple[list[str], bool]:
    """The fields of one TSV line, CSV-quoted ones unquoted; and whether a quote was kept as a character."""
    fields, literal = [], False
    for value in _content(line).split("\t"):
        if '"' in value:
            inner = value[1:-1]
            if len(value) >= 2 and value[0] == value[-1] == '"' and '"' not in inner.replace('""', ""):
                value = inner.replace('""', '"')
            else:
                literal = True
        fields.append(value)
    return fields, literal


class RecordReader:
    """The records of one file, by the rules of the module docstring.

    ``path`` names the file (and every message); ``data`` reads these bytes instead (standard
    input), still named ``path``. ``columns`` limits a Parquet read to those columns (they must
    exist). ``header`` is the column names of CSV, TSV and Parquet (None for JSON Lines and text),
    read and checked on construction."""

    def __init__(
        self,
        path: str | Path,
        fmt: str | None = None,
        *,
        encoding: str | None = None,
        data: bytes | None = None,
        columns: Sequence[str] | None = None,
    ):
        self.source = str(path)
        self.path = Path(path)
        self.fmt = file_format(path, fmt)
        self.data = data
        self.columns = list(columns) if columns is not None else None
        if encoding is not None:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ConfigError(f"unknown text encoding {encoding!r}") from None
        self.encoding = encoding
        self.header: list[str] | None = None
        if self.fmt == "parquet":
            self._parquet = self._open_parquet()
        else:
            self.codec = self._codec()
            if self.fmt in ("csv", "tsv"):
                self.header = self._read_header()

    # -- opening --------------------------------------------------------------------------------

    def _open(self) -> IO[bytes]:
        if self.data is not None:
            return io.BytesIO(self.data)
        try:
            return open(self.path, "rb")
        except FileNotFoundError:
            raise DataError("file not found", source=self.source) from None
        except IsADirectoryError:
            raise DataError("is a folder, expected a file", source=self.source) from None
        except OSError as exc:
            raise DataError(f"cannot read: {exc.strerror or exc}", source=self.source) from None

    def _codec(self) -> str:
        """``utf-8`` (read by bytes, seekable), or another codec read through a text layer."""
        with self._open() as fh:
            head = fh.read(4096)
        if self.encoding is not None:
            name = codecs.lookup(self.encoding).name
            return "utf-8" if name in ("utf-8", "utf-8-sig") else self.encoding
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if b"\x00" in head:
            even, odd = head[::2].count(0), head[1::2].count(0)
            guess = "utf-16-le" if odd > even else "utf-16-be"
            raise DataError(
                f"holds NUL bytes: it looks like UTF-16 without a byte-order mark ({guess}?); re-save "
                f"it as UTF-8, or give its encoding with --encoding {guess}",
                source=self.source,
            )
        return "utf-8"

    @property
    def seekable(self) -> bool:
        return self.fmt != "parquet" and self.codec == "utf-8"

    # -- lines ----------------------------------------------------------------------------------

    def _lines(self, start: Mark | None = None) -> Iterator[tuple[int, int | None, str]]:
        """``(line number, byte offset or None, line with its ending)`` from ``start`` (the top by default)."""
        with self._open() as fh:
            if self.codec == "utf-8":
                offset, number = (0, 1) if start is None or start.offset is None else (start.offset, start.number)
                fh.seek(offset)
                while True:
                    raw = fh.readline(MAX_LINE_BYTES + 1)
                    if not raw:
                        return
                    self._check_line_size(raw, number, "")
                    if offset == 0 and raw.startswith(codecs.BOM_UTF8):
                        raw_text = raw[len(codecs.BOM_UTF8) :]
                    else:
                        raw_text = raw
                    try:
                        text = raw_text.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise DataError(
                            f"not valid UTF-8: byte 0x{raw_text[exc.start]:02x} at column {exc.start + 1} "
                            "(re-save the file as UTF-8, or give its encoding with --encoding)",
                            source=self.source,
                            record=number,
                        ) from None
                    yield number, offset, text
                    offset += len(raw)
                    number += 1
            else:
                reader = io.TextIOWrapper(fh, encoding=self.codec, newline="\n")
                number = 1
                while True:
                    try:
                        line = reader.readline(MAX_LINE_BYTES + 1)
                    except UnicodeDecodeError as exc:
                        raise DataError(
                            f"not valid {self.codec} ({exc.reason}; give the file's encoding with --encoding)",
                            source=self.source,
                            record=number,
                        ) from None
                    if not line:
                        return
                    self._check_line_size(line, number, " characters")
                    if number == 1:
                        line = line.removeprefix("\ufeff")
                    yield number, None, line
                    number += 1

    def _check_line_size(self, line: bytes | str, number: int, unit: str) -> None:
        """A line read with a limit of one more than :data:`MAX_LINE_BYTES` (bytes for UTF-8, else
        characters) that reached it is not a text file's line: an error naming the line."""
        if len(line) > MAX_LINE_BYTES:
            raise DataError(
                f"a line longer than {MAX_LINE_BYTES >> 20} MiB{unit}: is this a text file?",
                source=self.source,
                record=number,
            )

    # -- header ---------------------------------------------------------------------------------

    def _read_header(self) -> list[str]:
        for number, _offset, _line, fields in self._delimited_rows(None):
            if not fields or all(not f.strip() for f in fields):
                continue
            header = [name.strip() for name in fields]
            duplicated = sorted({name for name in header if header.count(name) > 1})
            if duplicated:
                raise DataError(f"duplicate column(s) {duplicated} in the header", source=self.source, record=number)
            return header
        raise DataError("empty file (no header row)", source=self.source)

    def _delimited_rows(self, start: Mark | None) -> Iterator[tuple[int, int | None, str, list[str]]]:
        """``(first line number, offset, first line, fields)`` of each CSV/TSV row, blank lines left out."""
        lines = self._lines(start)
        if self.fmt == "tsv":
            for number, offset, line in lines:
                if _is_blank(line):
                    continue
                fields, literal = _tsv_fields(line)
                if literal:
                    self._notice(
                        "tsv-quote",
                        f"record {number} holds a quote that does not wrap its field; it is "
                        "kept as a character (TSV: only a field wrapped in quotes, with the "
                        "quotes inside doubled, is unquoted) and no rows are merged",
                    )
                yield number, offset, line, fields
            return
        state: dict[str, tuple[int, int | None, str] | None] = {"first": None}

        def feed() -> Iterator[str]:
            for number, offset, line in lines:
                if state["first"] is None:  # at the start of a record: blank lines are not records
                    if _is_blank(line):
                        continue
                    state["first"] = (number, offset, line)
                yield line

        if csv.field_size_limit() < MAX_LINE_BYTES:  # a field is bounded by its line, not by csv's 128 KiB
            csv.field_size_limit(MAX_LINE_BYTES)
        reader = csv.reader(feed(), strict=True)
        while True:
            state["first"] = None
            try:
                row: list[str] | None = next(iter(reader), None)
            except csv.Error as exc:
                first = state["first"]
                raise DataError(
                    f"malformed CSV ({exc}; a field holding a comma, quote or line break is quoted "
                    '"..." with "" for a quote)',
                    source=self.source,
                    record=first[0] if first else None,
                ) from None
            if row is None:
                return
            first = state["first"]
            assert first is not None  # a record was read, so its first line was seen
            number, offset, line = first
            yield number, offset, line, row

    # -- records --------------------------------------------------------------------------------

    def records(self, start: int = 0, *, mark: Mark | None = None) -> Iterator[Record]:
        """The records from the ``start``-th (0-based) on; ``mark`` (of the ``start``-th record, from an
        earlier pass) lets a UTF-8 file seek there."""
        if self.fmt == "parquet":
            yield from self._parquet_records(start)
            return
        if mark is not None and mark.index != start:
            raise ValueError("the mark must be the start record's")
        seek = mark if mark is not None and mark.offset is not None and self.seekable else None
        index = seek.index if seek is not None else 0
        if self.fmt in ("csv", "tsv"):
            assert self.header is not None
            rows = self._delimited_rows(seek)
            if seek is None:
                for _, _, _, fields in rows:  # the header (the first non-blank row)
                    if fields and any(f.strip() for f in fields):
                        break
            for number, offset, line, fields in rows:
                if index >= start:
                    yield Record(number, index, Mark(index, number, offset), self._row_values(number, line, fields))
                index += 1
            return
        for number, offset, line in self._lines(seek):
            if _is_blank(line):
                continue
            if index >= start:
                values = self._json_values(number, line) if self.fmt == "jsonl" else {TXT_FIELD: _content(line)}
                yield Record(number, index, Mark(index, number, offset), values)
            index += 1

    def _row_values(self, number: int, line: str, fields: list[str]) -> dict[str, str]:
        assert self.header is not None
        if len(fields) != len(self.header):
            hint = ""
            if self.fmt == "tsv" and '"' in line:
                hint = "; a TSV field cannot hold a tab or a line break, even quoted: save such a file as CSV"
            raise DataError(
                f"has {len(fields)} field(s), the header has {len(self.header)}{hint}",
                source=self.source,
                record=number,
            )
        return dict(zip(self.header, fields))

    def _json_values(self, number: int, line: str) -> dict[str, Any]:
        try:
            obj = json.loads(line, strict=False)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"not valid JSON: {exc.msg} (column {exc.colno})", source=self.source, record=number
            ) from None
        except RecursionError:
            raise DataError("not valid JSON: nested too deeply", source=self.source, record=number) from None
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {_json_type(obj)}", source=self.source, record=number)
        return obj

    def _notice(self, kind: str, message: str) -> None:
        key = (self.source, kind)
        if key not in _NOTICED:
            _NOTICED.add(key)
            _LOG.warning("%s: %s", self.source, message)

    # -- Parquet --------------------------------------------------------------------------------

    def _open_parquet(self) -> Any:
        import pyarrow.parquet as pq

        if self.data is None and not self.path.exists():
            raise DataError("file not found", source=self.source)
        try:  # ``data``: Parquet bytes of a table in memory (mgl.data.frames), read as a file is
            pf = pq.ParquetFile(io.BytesIO(self.data) if self.data is not None else self.path)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError ... for a damaged file
            raise DataError(f"not a readable Parquet file ({_first_line(exc)})", source=self.source) from None
        self.header = list(pf.schema_arrow.names)
        if self.columns is not None:
            missing = [c for c in self.columns if c not in self.header]
            if missing:
                raise DataError(f"missing column(s) {missing}; the file has {self.header}", source=self.source)
        return pf

    @property
    def parquet_rows(self) -> int:
        """The rows of a Parquet file, from its footer (no row is read)."""
        return int(self._parquet.metadata.num_rows)

    def _parquet_records(self, start: int) -> Iterator[Record]:
        pf = self._parquet
        groups, row, first = [], 0, None
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            if row + n > start:
                first = row if first is None else first
                groups.append(g)
            row += n
        if not groups:
            return
        index = first or 0
        try:
            for batch in pf.iter_batches(batch_size=4096, columns=self.columns, row_groups=groups):
                for values in batch.to_pylist():
                    if index >= start:
                        yield Record(index + 1, index, Mark(index, index + 1, None), values)
                    index += 1
        except Exception as exc:  # a damaged row group
            if isinstance(exc, DataError):
                raise
            raise DataError(
                f"not a readable Parquet file ({_first_line(exc)})", source=self.source, record=index + 1
            ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object (a dict)"
    return type(value).__name__


@overload
def text_value(
    values: Mapping[str, Any],
    column: str,
    *,
    source: str | Path | None,
    record: int,
    role: str = ...,
    required: Literal[True] = ...,
) -> str: ...
@overload
def text_value(
    values: Mapping[str, Any], column: str, *, source: str | Path | None, record: int, role: str = ..., required: bool
) -> str | None: ...
def text_value(
    values: Mapping[str, Any],
    column: str,
    *,
    source: str | Path | None,
    record: int,
    role: str = "text",
    required: bool = True,
) -> str | None:
    """The text a record holds in ``column``, as written: a string that is not empty or white space
    alone, valid Unicode, and at most :data:`MAX_TEXT_CHARS` characters. None where the field is
    missing or null and not ``required``. Every reader checks its texts here, so training and
    prediction accept the same ones."""
    if column not in values or values[column] is None:
        if not required:
            return None
        what = "no field" if column not in values else "a null value in"
        raise DataError(f"{what} {column!r}: the {role} is missing", source=source, record=record)
    value = values[column]
    if not isinstance(value, str):
        raise DataError(
            f"the {role} (field {column!r}) is {_json_type(value)}, expected a string", source=source, record=record
        )
    if not value.strip():
        raise DataError(f"empty {role} (field {column!r})", source=source, record=record)
    if len(value) > MAX_TEXT_CHARS:
        raise DataError(
            f"the {role} (field {column!r}) is {len(value):,} characters long, over the limit of "
            f"{MAX_TEXT_CHARS:,} characters per text",
            source=source,
            record=record,
        )
    check_text(value, what=f"the {role} (field {column!r})", source=source, record=record)
    return value


def scalar_value(values: Mapping[str, Any], column: str, *, source: str | Path | None, record: int) -> str | None:
    """A code-like field (label, language, split, domain, id) as a string, stripped: JSON numbers
    and booleans as JSON writes them (integral floats without ``.0``), null as None; NaN and
    lists or objects are errors naming the record."""
    if column not in values:
        raise DataError(f"no field {column!r}", source=source, record=record)
    value = values[column]
    if value is None:
        return None
    if isinstance(value, str):
        check_text(value, what=f"value of {column!r}", source=source, record=record)
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise DataError(
                f"value of {column!r} is {'NaN' if math.isnan(value) else 'infinite'}", source=source, record=record
            )
        return str(int(value)) if value.is_integer() else repr(value)
    raise DataError(
        f"value of {column!r} is {_json_type(value)}, expected a string or a number", source=source, record=record
    )


def record_id(values: Mapping[str, Any], column: str, *, source: str | Path | None, record: int) -> str:
    """A record's id from ``column``: a non-empty string (numbers as JSON writes them) that can be
    written; an empty, blank or null id is an error naming the record."""
    rid = scalar_value(values, column, source=source, record=record)
    if rid is None or not rid.strip():
        raise DataError(f"empty id (field {column!r})", source=source, record=record)
    return rid


def stdin_bytes() -> bytes:
    """Standard input, whole (``mgl predict --input -``)."""
    return sys.stdin.buffer.read()
