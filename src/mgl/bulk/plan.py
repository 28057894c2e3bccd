"""A corpus cut into shards that a worker reads on its own.

The input stream of :mod:`mgl.streaming` (the files in order, each file's rows in order) is cut
into shards of ``shard_rows`` rows: shard ``k`` is rows ``[k * shard_rows, (k + 1) * shard_rows)``,
the same shards a single process writes. A shard is a list of :class:`Piece` s, one per file it
spans. Planning reads no text where it can avoid it: a Parquet file's row count is in its
metadata; a JSON Lines file is scanned once for line ends, and the byte offset where each shard
starts is recorded, so its worker seeks there; a CSV/TSV file is counted with the streaming
parser (its workers parse it from the top to their rows: for a corpus of large CSV files,
Parquet or JSON Lines scale better).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from mgl.errors import DataError
from mgl.streaming import FORMATS, Rows, table_batches, file_rows


@dataclass(frozen=True)
class Piece:
    """Rows ``[start, start + rows)`` of one file; for JSON Lines, the byte ``offset`` and ``line``
    where row ``start`` begins."""

    path: str
    start: int
    rows: int
    offset: int = 0
    line: int = 1


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``k`` of the stream: its pieces, in order."""

    k: int
    pieces: tuple[Piece, ...]

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.pieces)

    def to_dict(self) -> dict:
        """The spec as JSON values (what a worker is sent)."""
        return {"k": self.k, "pieces": [asdict(p) for p in self.pieces]}

    @classmethod
    def from_dict(cls, data: dict) -> "ShardSpec":
        return cls(int(data["k"]), tuple(Piece(**p) for p in data["pieces"]))


def _jsonl_starts(path: Path, first: int, shard_rows: int) -> tuple[int, dict[int, tuple[int, int]]]:
    """The number of records of a JSON Lines file whose first record is row ``first`` of the stream,
    and ``(byte offset, line)`` of its first record and of each record that starts a shard. A
    record is a line that is not blank, as :func:`mgl.streaming.file_rows` reads it."""
    marks: dict[int, tuple[int, int]] = {}
    n = 0
    offset = 0
    with open(path, "rb") as fh:
        for line, raw in enumerate(fh, 1):
            text = raw.decode("utf-8", errors="replace")
            if line == 1:
                text = text.removeprefix("\ufeff")
            if text.strip():
                if n == 0 or (first + n) % shard_rows == 0:
                    marks[n] = (offset, line)
                n += 1
            offset += len(raw)
    return n, marks


def _count(path: Path, text_column: str) -> int:
    fmt = FORMATS[path.suffix.lower()]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return sum(batch.num_rows for _, batch in table_batches(path, fmt, [text_column], 1 << 16))


def plan_shards(files: Sequence[Path], shard_rows: int, *, text_column: str = "text") -> list[ShardSpec]:
    """The shards of the stream of ``files``, each as the pieces of files it spans."""
    if shard_rows < 1:
        raise DataError(f"--shard-rows must be >= 1, got {shard_rows}")
    pieces: dict[int, list[Piece]] = {}
    first = 0  # the stream index of the file's first row
    for path in files:
        if FORMATS[path.suffix.lower()] == "jsonl":
            n, marks = _jsonl_starts(path, first, shard_rows)
        else:
            n, marks = _count(path, text_column), {}
        row = 0
        while row < n:
            k = (first + row) // shard_rows
            take = min(n - row, (k + 1) * shard_rows - (first + row))
            offset, line = marks.get(row, (0, 1))
            pieces.setdefault(k, []).append(Piece(str(path), row, take, offset, line))
            row += take
        first += n
    return [ShardSpec(k, tuple(pieces[k])) for k in sorted(pieces)]


def read_shard(spec: ShardSpec, *, text_column: str = "text", pair_column: str | None = None,
               id_column: str | None = None) -> Rows:
    """A shard's rows, read from its files (checked as :func:`mgl.streaming.file_rows` checks them)."""
    texts: list[str] = []
    pairs: list[str | None] = []
    ids: list[str] = []
    for piece in spec.pieces:
        for r in file_rows(Path(piece.path), text_column=text_column, pair_column=pair_column, id_column=id_column,
                           start=piece.start, count=piece.rows, offset=piece.offset, line=piece.line):
            texts += r.texts
            pairs += r.pairs if r.pairs is not None else [None] * len(r.texts)
            ids += r.ids
    if len(texts) != spec.rows:
        raise DataError(f"shard {spec.k}: read {len(texts)} rows where {spec.rows} were planned; did an input change "
                        "during the run?", source=spec.pieces[0].path)
    return Rows(texts, pairs if pair_column is not None else None, ids)
