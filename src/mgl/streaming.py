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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from mgl.errors import DataError, check_text

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".parquet": "parquet"}
MANIFEST = "_mgl_predict.json"
MAX_TEXT_CHARS = 100_000


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
        if any(ch in item for ch in "*?["):
            matched = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            matched = [p for p in matched if p.suffix.lower() in FORMATS]
            if not matched:
                raise DataError("the pattern matches no .csv, .tsv, .jsonl or .parquet file", source=item)
            out += matched
        elif Path(item).is_dir():
            matched = sorted(p for p in Path(item).rglob("*") if p.is_file() and p.suffix.lower() in FORMATS
                             and not p.name.startswith((".", "_")))
            if not matched:
                raise DataError("the folder holds no .csv, .tsv, .jsonl or .parquet file", source=item)
            out += matched
        elif Path(item).is_file():
            if Path(item).suffix.lower() not in FORMATS:
                raise DataError("unknown input format: use .csv, .tsv, .jsonl or .parquet", source=item)
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


def _columns(names: Sequence[str], wanted: dict[str, str | None], source: Path) -> None:
    for role, column in wanted.items():
        if column is not None and column not in names:
            raise DataError(f"missing {role} column {column!r} (columns: {', '.join(map(str, names))})", source=source)


def table_batches(path: Path, fmt: str, columns: list[str], batch_rows: int, start: int = 0):
    """``(first row, batch)`` pairs of a Parquet/CSV/TSV file; Parquet from the row group holding
    row ``start`` on (its metadata says where), CSV and TSV from the top."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        _columns(pf.schema_arrow.names, {c: c for c in columns}, path)
        first, groups, row = None, [], 0
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            if row + n > start:
                first = row if first is None else first
                groups.append(g)
            row += n
        row = first or 0
        if groups:
            for batch in pf.iter_batches(batch_size=batch_rows, columns=columns, row_groups=groups):
                yield row, batch
                row += batch.num_rows
        return
    import pyarrow.csv as pcsv

    delimiter = "," if fmt == "csv" else "\t"
    row = 0
    try:
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 20),
                               parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                               convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in columns},
                                                                   include_columns=columns,
                                                                   strings_can_be_null=False))
        for batch in reader:
            yield row, batch
            row += batch.num_rows
    except pa.ArrowInvalid as exc:
        raise DataError(f"not a readable {fmt.upper()} file ({str(exc).splitlines()[0]})", source=path) from None
    except KeyError as exc:
        raise DataError(f"missing column {exc}", source=path) from None


def jsonl_record(line: str, *, source, record: int, fields: Sequence[str]) -> dict:
    """One JSON Lines record: an object holding every field of ``fields``, else an error naming the
    source and the record (shared by the single-file reader of ``mgl predict``)."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON ({exc.msg})", source=source, record=record) from None
    if not isinstance(rec, dict):
        raise DataError("a JSON line must be an object", source=source, record=record)
    for field in fields:
        if field not in rec:
            raise DataError(f"missing field {field!r}", source=source, record=record)
    return rec


def check_input(text, pair, *, source, record: int, pair_required: bool = False) -> None:
    """One input to predict: a non-empty text (and pair text, where given or required) that is valid
    Unicode, at most :data:`MAX_TEXT_CHARS` characters together; else an error naming the record."""
    if not isinstance(text, str) or not text.strip():
        raise DataError("empty or non-text input", source=source, record=record)
    check_text(text, what="the text", source=source, record=record)
    if pair is None and pair_required:
        raise DataError("the pair text is missing", source=source, record=record)
    if pair is not None:
        if not isinstance(pair, str):
            raise DataError("the pair text is not a string", source=source, record=record)
        check_text(pair, what="the pair text", source=source, record=record)
    if len(text) + len(pair or "") > MAX_TEXT_CHARS:
        raise DataError(f"text longer than {MAX_TEXT_CHARS} characters", source=source, record=record)


def _jsonl_batches(path: Path, columns: list[str], batch_rows: int, *, offset: int = 0, line: int = 1,
                   row: int = 0):
    """``(first row, {column: values})`` pairs of a JSON Lines file, read from byte ``offset`` (where
    record ``row`` starts, on line ``line``; 0, 1, 0 for the whole file). Blank lines are not rows."""
    batch: dict[str, list] = {c: [] for c in columns}
    first = row
    with open(path, "rb") as fh:
        fh.seek(offset)
        for i, raw in enumerate(fh, line):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError("not valid UTF-8", source=path, record=i) from None
            if i == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip():
                continue
            rec = jsonl_record(text, source=path, record=i, fields=columns)
            for c in columns:
                batch[c].append(rec[c])
            if len(batch[columns[0]]) >= batch_rows:
                yield first, batch
                first += len(batch[columns[0]])
                batch = {c: [] for c in columns}
    if batch[columns[0]]:
        yield first, batch


def file_rows(path: Path, *, text_column: str = "text", pair_column: str | None = None, id_column: str | None = None,
              start: int = 0, count: int | None = None, offset: int = 0, line: int = 1,
              batch_rows: int = 4096) -> Iterator[Rows]:
    """Rows ``[start, start + count)`` of one input file (all from ``start`` on where ``count`` is None),
    in batches of at most ``batch_rows``, each checked (:func:`check_input`). A JSON Lines file is
    read from byte ``offset`` and line ``line``, where its row ``start`` begins
    (:func:`mgl.bulk.plan.plan_shards` records them); Parquet skips to the row group holding
    ``start``; CSV and TSV are parsed from the top. Ids: the ``id_column``'s values (as strings),
    else ``<file name>:<row>`` (the row counted from 1 in its file)."""
    fmt = FORMATS[path.suffix.lower()]
    columns = list(dict.fromkeys([c for c in (text_column, pair_column, id_column) if c is not None]))
    stop = None if count is None else start + count
    batches = (_jsonl_batches(path, columns, batch_rows, offset=offset, line=line, row=start if offset else 0)
               if fmt == "jsonl" else table_batches(path, fmt, columns, batch_rows, start))
    for first, batch in batches:
        n = len(batch[columns[0]]) if isinstance(batch, dict) else batch.num_rows
        if first + n <= start:
            continue
        if stop is not None and first >= stop:
            return
        data = batch if isinstance(batch, dict) else batch.to_pydict()
        lo, hi = max(start - first, 0), (n if stop is None else min(n, stop - first))
        texts = data[text_column][lo:hi]
        pairs = data[pair_column][lo:hi] if pair_column else None
        rows = range(first + lo + 1, first + hi + 1)
        ids = [str(v) for v in data[id_column][lo:hi]] if id_column else [f"{path.name}:{r}" for r in rows]
        for k, (text, r) in enumerate(zip(texts, rows)):
            check_input(text, pairs[k] if pairs is not None else None, source=path, record=r,
                        pair_required=pair_column is not None)
        for s in range(0, len(texts), batch_rows):
            yield Rows(texts[s:s + batch_rows], pairs[s:s + batch_rows] if pairs is not None else None,
                       ids[s:s + batch_rows])
        if stop is not None and first + hi >= stop:
            return


def read_rows(files: Sequence[Path], *, text_column: str = "text", pair_column: str | None = None,
              id_column: str | None = None, batch_rows: int = 4096) -> Iterator[Rows]:
    """The input stream in batches of at most ``batch_rows`` rows: every file's rows
    (:func:`file_rows`), the files in the order given."""
    for path in files:
        yield from file_rows(path, text_column=text_column, pair_column=pair_column, id_column=id_column,
                             batch_rows=batch_rows)


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
    from mgl.io import sha256_file

    return {"inputs": [{"path": str(p.resolve()), "bytes": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns}
                       for p in files],
            "model": {"path": str(Path(model).resolve()), "mgl_model.json": sha256_file(model_json)},
            "options": options}


def prepare_output(out: Path, manifest: dict) -> set[int]:
    """Check the output folder and return the shards a previous run of the same job finished.

    A missing or empty folder starts a new job (the manifest is written); a folder holding this
    job's manifest continues it; anything else is refused, naming the folder. Shards finish out of
    order when several workers predict, so every finished shard counts, not only a leading run."""
    from mgl.io import write_json_atomic

    if out.exists() and not out.is_dir():
        raise DataError("the output exists and is not a folder", source=out)
    out.mkdir(parents=True, exist_ok=True)
    entries = [p for p in out.iterdir()]
    path = out / MANIFEST
    if not entries:
        write_json_atomic(path, manifest)
        return set()
    if not path.is_file():
        raise DataError("the output folder holds files that are not an mgl prediction's; give an empty or new "
                        "folder (nothing is deleted)", source=out)
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DataError("the prediction manifest is unreadable", source=path) from None
    if previous != manifest:
        raise DataError("the output folder holds the predictions of another job (other inputs, model or options); "
                        "give another folder", source=out)
    suffix = "." + manifest["options"]["output_format"]
    done = set()
    for p in out.glob(f"part-*{suffix}"):
        stem = p.name[len("part-"):-len(suffix)]
        if stem.isdigit():
            done.add(int(stem))
    return done


def write_shard(out: Path, k: int, ids: list[str], labels: list[str], probs, label_names: list[str],
                id_column: str, fmt: str) -> Path:
    """One shard, atomically: the ids, the label and one probability column per class."""
    target = out / f"part-{k:05d}.{fmt}"
    tmp = out / f".part-{k:05d}.{fmt}.tmp"
    try:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table({id_column: pa.array(ids, pa.string()), "label": pa.array(labels, pa.string()),
                              **{f"p_{name}": pa.array(probs[:, j].astype("float64")) for j, name in enumerate(label_names)}})
            pq.write_table(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for i, rid in enumerate(ids):
                    fh.write(json.dumps({id_column: rid, "label": labels[i],
                                         "probabilities": {n: round(float(probs[i, j]), 6) for j, n in enumerate(label_names)}},
                                        ensure_ascii=False) + "\n")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def count_rows(files: Sequence[Path]) -> int | None:
    """The number of input rows where it is known without reading the data (Parquet metadata)."""
    total = 0
    for p in files:
        if p.suffix.lower() != ".parquet":
            return None
        import pyarrow.parquet as pq

        total += pq.ParquetFile(p).metadata.num_rows
    return total
