"""Reading a corpus bigger than memory and writing its predictions as shards: the pieces of
``mgl predict --output DIR`` (:func:`mgl.bulk.predict.predict_stream` puts them together).

The inputs (files, folders and globs of CSV/TSV/JSONL/Parquet) are read in bounded batches
(pyarrow's streaming CSV reader, Parquet row groups, JSONL line by line), in a fixed order (the
inputs as given; a folder's files sorted by path), so the rows form one stream; a file can also
be read from a given row on (:func:`file_rows`), which is how a worker reads its shard. The
stream is cut into shards of ``shard_rows`` rows: shard ``k`` holds rows
``[k * shard_rows, (k + 1) * shard_rows)`` and is written as ``part-0000k.parquet`` (or
``.jsonl``) into a temporary file and renamed into place, so a shard on disk is complete. A
manifest (``_mgl_predict.json``: the inputs with their sizes and modification times, the model,
the options) is written first; a run started again on the same output folder with the same
manifest skips the shards that exist and writes the rest, so the output is the same as an
uninterrupted run's. A folder holding anything else, or the shards of another job, is refused:
nothing is ever deleted. Memory holds one shard's texts and vectors at a time (per worker),
whatever the corpus size.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mgl.data.records import SUFFIXES, Mark, RecordReader, file_format, record_id, text_value
from mgl.errors import DataError
from mgl.io import sha256_file, write_error, write_json_atomic

STREAM_FORMATS = ("csv", "tsv", "jsonl", "parquet")
#: The suffixes read in a folder or glob of inputs (the reader's table; text files and ``.json``, which
#: a folder may hold for other purposes, only when named).
FORMATS = {suffix: fmt for suffix, fmt in SUFFIXES.items() if fmt in STREAM_FORMATS and suffix != ".json"}
MANIFEST = "_mgl_predict.json"


@dataclass(frozen=True)
class Rows:
    """One batch of the input stream: texts, pair texts (or None), ids, and where they came from."""

    texts: list[str]
    pairs: list[str | None] | None
    ids: list[str]


def expand_inputs(items: Sequence[str]) -> list[Path]:
    """Files, folders (their CSV/TSV/JSONL/Parquet files, recursively, sorted) and globs, in the order given;
    a name that matches nothing is an error naming it."""
    out: list[Path] = []
    for item in items:
        item = os.path.expanduser(item)
        if any(ch in item for ch in "*?["):
            matched = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            matched = [p for p in matched if p.suffix.lower() in FORMATS]
            if not matched:
                raise DataError("the pattern matches no .csv, .tsv, .jsonl or .parquet file", source=item)
            out += matched
        elif Path(item).is_dir():
            matched = sorted(
                p
                for p in Path(item).rglob("*")
                if p.is_file() and p.suffix.lower() in FORMATS and not p.name.startswith((".", "_"))
            )
            if not matched:
                raise DataError("the folder holds no .csv, .tsv, .jsonl or .parquet file", source=item)
            out += matched
        elif Path(item).is_file():
            file_format(item, allowed=STREAM_FORMATS)
            out.append(Path(item))
        else:
            raise DataError("no such input file or folder", source=item)
    seen: set[Path] = set()
    unique = []
    for p in out:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


def check_input(
    values: dict,
    *,
    source,
    record: int,
    text_column: str = "text",
    pair_column: str | None = None,
    pair_required: bool = False,
) -> tuple[str, str | None]:
    """The text (and pair text, where ``pair_column`` names one) of one record to predict, checked as
    training checks its texts (:func:`mgl.data.records.text_value`): non-empty strings of valid
    Unicode, each at most :data:`~mgl.data.records.MAX_TEXT_CHARS` characters; else an error naming
    the record."""
    text = text_value(values, text_column, source=source, record=record)
    pair = (
        text_value(values, pair_column, source=source, record=record, role="pair text", required=pair_required)
        if pair_column is not None
        else None
    )
    return text, pair


def file_rows(
    path: Path,
    *,
    text_column: str = "text",
    pair_column: str | None = None,
    id_column: str | None = None,
    start: int = 0,
    count: int | None = None,
    mark: Mark | None = None,
    batch_rows: int = 4096,
) -> Iterator[Rows]:
    """Rows ``[start, start + count)`` of one input file (all from ``start`` on where ``count`` is None),
    in batches of at most ``batch_rows``, each checked (:func:`check_input`), read by the one reader
    (:class:`mgl.data.records.RecordReader`); ``mark`` (recorded by :func:`mgl.bulk.plan.plan_shards`)
    lets it seek to row ``start``. Ids: the ``id_column``'s values (as strings), else
    ``<file name>:<row>`` (the row counted from 1 in its file)."""
    reader = open_input(path, text_column=text_column, pair_column=pair_column, id_column=id_column)
    texts: list[str] = []
    pairs: list[str | None] = []
    ids: list[str] = []
    for rec in reader.records(start, mark=mark):
        if count is not None and rec.index >= start + count:
            break
        text, pair, rid = checked_row(rec, path, text_column=text_column, pair_column=pair_column, id_column=id_column)
        texts.append(text)
        pairs.append(pair)
        ids.append(rid)
        if len(texts) >= batch_rows:
            yield Rows(texts, pairs if pair_column else None, ids)
            texts, pairs, ids = [], [], []
    if texts:
        yield Rows(texts, pairs if pair_column else None, ids)


def open_input(
    path: Path, *, text_column: str = "text", pair_column: str | None = None, id_column: str | None = None
) -> RecordReader:
    """The one reader on an input of ``mgl predict --output DIR``, its columns checked."""
    columns = list(dict.fromkeys([c for c in (text_column, pair_column, id_column) if c is not None]))
    reader = RecordReader(path, file_format(path, allowed=STREAM_FORMATS), columns=columns)
    if reader.header is not None:
        missing = [c for c in columns if c not in reader.header]
        if missing:
            raise DataError(f"missing column(s) {missing} (columns: {', '.join(map(str, reader.header))})", source=path)
    return reader


def checked_row(
    rec, path: Path, *, text_column: str = "text", pair_column: str | None = None, id_column: str | None = None
) -> tuple[str, str | None, str]:
    """One record as an input row: (text, pair text, id), each checked (:func:`check_input`,
    :func:`record_id`); the default id is ``<file name>:<row>`` (the row counted from 1 in its file)."""
    values = rec.values
    text, pair = check_input(
        values,
        source=path,
        record=rec.number,
        text_column=text_column,
        pair_column=pair_column,
        pair_required=pair_column is not None,
    )
    rid = record_id(values, id_column, source=path, record=rec.number) if id_column else f"{path.name}:{rec.index + 1}"
    return text, pair, rid


def read_rows(
    files: Sequence[Path],
    *,
    text_column: str = "text",
    pair_column: str | None = None,
    id_column: str | None = None,
    batch_rows: int = 4096,
) -> Iterator[Rows]:
    """The input stream in batches of at most ``batch_rows`` rows: every file's rows
    (:func:`file_rows`), the files in the order given."""
    for path in files:
        yield from file_rows(
            path, text_column=text_column, pair_column=pair_column, id_column=id_column, batch_rows=batch_rows
        )


def shards(rows: Iterator[Rows], shard_rows: int) -> Iterator[Rows]:
    """The stream regrouped into shards of exactly ``shard_rows`` rows (the last may be shorter)."""
    texts: list[str] = []
    pairs: list[str | None] = []
    ids: list[str] = []
    has_pairs = False
    for r in rows:
        has_pairs = has_pairs or r.pairs is not None
        texts += r.texts
        pairs += r.pairs if r.pairs is not None else [None] * len(r.texts)
        ids += r.ids
        while len(texts) >= shard_rows:
            yield Rows(texts[:shard_rows], pairs[:shard_rows] if has_pairs else None, ids[:shard_rows])
            texts, pairs, ids = texts[shard_rows:], pairs[shard_rows:], ids[shard_rows:]
    if texts:
        yield Rows(texts, pairs if has_pairs else None, ids)


def manifest_for(files: Sequence[Path], model: Path, options: dict) -> dict:
    """What identifies a prediction job: its inputs (path, size, modification time), the model, the options."""
    model_json = Path(model) / "mgl_model.json"

    return {
        "inputs": [
            {"path": str(p.resolve()), "bytes": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns} for p in files
        ],
        "model": {"path": str(Path(model).resolve()), "mgl_model.json": sha256_file(model_json)},
        "options": options,
    }


def prepare_output(out: Path, manifest: dict) -> set[int]:
    """Check the output folder and return the shards a previous run of the same job finished.

    A missing or empty folder starts a new job (the manifest is written); a folder holding this
    job's manifest continues it; anything else is refused, naming the folder. Shards finish out of
    order when several workers predict, so every finished shard counts, not only a leading run."""

    if out.exists() and not out.is_dir():
        raise DataError("the output exists and is not a folder", source=out)
    out.mkdir(parents=True, exist_ok=True)
    entries = list(out.iterdir())
    path = out / MANIFEST
    if not entries:
        write_json_atomic(path, manifest)
        return set()
    if not path.is_file():
        raise DataError(
            "the output folder holds files that are not an mgl prediction's; give an empty or new "
            "folder (nothing is deleted)",
            source=out,
        )
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DataError("the prediction manifest is unreadable", source=path) from None
    if previous != manifest:
        raise DataError(
            "the output folder holds the predictions of another job (other inputs, model or options); "
            "give another folder",
            source=out,
        )
    suffix = "." + manifest["options"]["output_format"]
    done = set()
    for p in out.glob(f"part-*{suffix}"):
        stem = p.name[len("part-") : -len(suffix)]
        if stem.isdigit():
            done.add(int(stem))
    return done


def write_shard(
    out: Path, k: int, ids: list[str], labels: list[str], probs, label_names: list[str], id_column: str, fmt: str
) -> Path:
    """One shard, atomically: the ids, the label and one probability column per class."""
    target = out / f"part-{k:05d}.{fmt}"
    tmp = out / f".part-{k:05d}.{fmt}.tmp"
    try:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table(
                {
                    id_column: pa.array(ids, pa.string()),
                    "label": pa.array(labels, pa.string()),
                    **{f"p_{name}": pa.array(probs[:, j].astype("float64")) for j, name in enumerate(label_names)},
                }
            )
            pq.write_table(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for i, rid in enumerate(ids):
                    fh.write(
                        json.dumps(
                            {
                                id_column: rid,
                                "label": labels[i],
                                "probabilities": {n: round(float(probs[i, j]), 6) for j, n in enumerate(label_names)},
                            },
                            ensure_ascii=False,
                        )
                        + "\n"
                    )
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(exc, target) from None
        raise
    return target
