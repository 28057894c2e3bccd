"""A corpus cut into shards that a worker reads on its own.

The input stream of :mod:`mgl.bulk.streaming` (the files in order, each file's rows in order) is cut
into shards of ``shard_rows`` rows: shard ``k`` is rows ``[k * shard_rows, (k + 1) * shard_rows)``,
the same shards a single process writes. A shard is a list of :class:`Piece` s, one per file it
spans. Planning reads every record once with the one reader
(:class:`mgl.data.records.RecordReader`) and checks it as a worker will, so a bad record is
refused before any work, naming the first bad record in the stream, as one process does; the
:class:`~mgl.data.records.Mark` of each shard's first record is kept, so a worker seeks there
(UTF-8 text files; Parquet skips to the row group; others are read from the top).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from mgl.bulk.streaming import Rows, checked_row, file_rows, open_input
from mgl.data.records import Mark, file_format
from mgl.errors import DataError


@dataclass(frozen=True)
class Piece:
    """Rows ``[start, start + rows)`` of one file; ``line`` and ``offset``: where row ``start`` begins
    (its line, and its byte offset where the file can be sought; None reads from the top)."""

    path: str
    start: int
    rows: int
    offset: int | None = None
    line: int = 1

    @property
    def mark(self) -> Mark | None:
        return None if self.offset is None else Mark(self.start, self.line, self.offset)


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
    def from_dict(cls, data: dict) -> ShardSpec:
        return cls(int(data["k"]), tuple(Piece(**p) for p in data["pieces"]))


def _file_marks(path: Path, first: int, shard_rows: int, columns: dict) -> tuple[int, dict[int, Mark]]:
    """The number of records of a file whose first record is row ``first`` of the stream, and the
    :class:`Mark` of its first record and of each record that starts a shard. Every record is read
    and checked as a worker will (:func:`mgl.bulk.streaming.checked_row`), so a bad record stops the run
    here, before any work, naming the first bad record as one process does."""
    reader = open_input(path, **columns)
    marks: dict[int, Mark] = {}
    n = 0
    for rec in reader.records():
        checked_row(rec, path, **columns)
        if n == 0 or (first + n) % shard_rows == 0:
            marks[n] = rec.mark
        n += 1
    return n, marks


def plan_shards(
    files: Sequence[Path],
    shard_rows: int,
    *,
    text_column: str = "text",
    pair_column: str | None = None,
    id_column: str | None = None,
) -> list[ShardSpec]:
    """The shards of the stream of ``files``, each as the pieces of files it spans (every record
    checked on the way)."""
    if shard_rows < 1:
        raise DataError(f"--shard-rows must be >= 1, got {shard_rows}")
    columns = {"text_column": text_column, "pair_column": pair_column, "id_column": id_column}
    pieces: dict[int, list[Piece]] = {}
    first = 0  # the stream index of the file's first row
    for path in files:
        n, marks = _file_marks(path, first, shard_rows, columns)
        row = 0
        while row < n:
            k = (first + row) // shard_rows
            take = min(n - row, (k + 1) * shard_rows - (first + row))
            mark = marks.get(row)
            pieces.setdefault(k, []).append(
                Piece(str(path), row, take, mark.offset if mark else None, mark.number if mark else 1)
            )
            row += take
        first += n
    return [ShardSpec(k, tuple(pieces[k])) for k in sorted(pieces)]


#: The fewest rows of a text file's piece on the Ray path (its last piece excepted): one read task each.
PIECE_ROWS = 4096


@dataclass(frozen=True)
class FilePlan:
    """One input file of the stream: its index among the inputs, its format, its first row in the
    stream and its rows; for a text file, the pieces that a worker reads, each from a mark (where a
    shard starts or the file does) and of at least :data:`PIECE_ROWS` rows but the last."""

    index: int
    path: Path
    fmt: str
    first: int
    rows: int
    pieces: tuple[Piece, ...] = ()


def file_plans(
    files: Sequence[Path],
    shard_rows: int,
    *,
    text_column: str = "text",
    pair_column: str | None = None,
    id_column: str | None = None,
) -> tuple[list[FilePlan], tuple[int, DataError] | None]:
    """The plan of every file, in order, until the first that fails: a Parquet file by its footer
    (its row count and columns; the rows are checked where they are read), a text file by one
    pass of the one reader that checks every record. Returns the plans and, where a file failed,
    ``(its index, its error)``; the files after it are not planned."""

    if shard_rows < 1:
        raise DataError(f"--shard-rows must be >= 1, got {shard_rows}")
    columns = {"text_column": text_column, "pair_column": pair_column, "id_column": id_column}
    plans: list[FilePlan] = []
    first = 0
    for i, path in enumerate(files):
        try:
            fmt = file_format(path)
            if fmt == "parquet":
                reader = open_input(path, text_column=text_column, pair_column=pair_column, id_column=id_column)
                plans.append(FilePlan(i, Path(path), fmt, first, reader.parquet_rows))
            else:
                n, marks = _file_marks(path, first, shard_rows, columns)
                starts: list[int] = []
                for s in sorted(marks):  # pieces of at least PIECE_ROWS rows (small shards: a piece spans several)
                    if not starts or s - starts[-1] >= PIECE_ROWS:
                        starts.append(s)
                pieces = tuple(
                    Piece(
                        str(path),
                        s,
                        (starts[j + 1] if j + 1 < len(starts) else n) - s,
                        marks[s].offset,
                        marks[s].number,
                    )
                    for j, s in enumerate(starts)
                    if s < n
                )
                plans.append(FilePlan(i, Path(path), fmt, first, n, pieces))
        except DataError as exc:
            return plans, (i, exc)
        first += plans[-1].rows
    return plans, None


def read_shard(
    spec: ShardSpec, *, text_column: str = "text", pair_column: str | None = None, id_column: str | None = None
) -> Rows:
    """A shard's rows, read from its files (checked as :func:`mgl.bulk.streaming.file_rows` checks them)."""
    texts: list[str] = []
    pairs: list[str | None] = []
    ids: list[str] = []
    for piece in spec.pieces:
        for r in file_rows(
            Path(piece.path),
            text_column=text_column,
            pair_column=pair_column,
            id_column=id_column,
            start=piece.start,
            count=piece.rows,
            mark=piece.mark,
        ):
            texts += r.texts
            pairs += r.pairs if r.pairs is not None else [None] * len(r.texts)
            ids += r.ids
    if len(texts) != spec.rows:
        raise DataError(
            f"shard {spec.k}: read {len(texts)} rows where {spec.rows} were planned; did an input change "
            "during the run?",
            source=spec.pieces[0].path,
        )
    return Rows(texts, pairs if pair_column is not None else None, ids)
