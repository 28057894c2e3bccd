"""Bulk prediction on Ray Data: the input files read where they are, by Ray Data's readers.

``mgl predict --executor ray`` builds one Ray Dataset over the inputs, in stream order::

    read_parquet(Parquet files) | from_items(pieces of CSV/TSV/JSONL files).map_batches(read_piece)
        -> union -> map_batches(Predictor, ActorPoolStrategy) -> the driver writes the shards

Parquet files are read on the workers by ``ray.data.read_parquet``: the driver reads their footers
only (row counts, columns). CSV, TSV and JSON Lines are read on the workers by mgl's one reader
(:class:`mgl.data.records.RecordReader`, in a ``map_batches`` over the planned pieces), not by
``read_csv`` / ``read_json``: pyarrow's CSV and JSON readers accept rows that mgl refuses (a stray
quote that merges rows, duplicate keys, numbers where a text belongs) and count records otherwise,
so a user's error would become a wrong number. Those text files are therefore checked and
planned by one streaming pass in the driver (:func:`mgl.bulk.plan.file_plans`), which keeps the
:class:`~mgl.data.records.Mark` of each piece so a worker seeks there; that pass holds one record
at a time, whatever the file size.

Every record is checked before any work, as one process checks it: the Parquet rows by a first
Ray Data pass on the workers (``read_parquet -> map_batches(check)``, one small row per batch
back to the driver), the text files by the driver's pass; the first bad record of the stream is
the one named. The rows come back in stream order (``preserve_order``), each with its file's
index, so the driver gives every row its position and default id (``<file name>:<row>``) and cuts
the same shards of ``shard_rows`` rows as one process. Embedding does not depend on batch mates
(:mod:`mgl.encoders.batching`), so the probabilities are the single process's, bit for bit.
What crosses to the driver is the ids and the probabilities, never the texts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgl.bulk.executors import RayPool, require_ray
from mgl.bulk.plan import FilePlan, ShardSpec, file_plans, read_shard
from mgl.bulk.streaming import check_input
from mgl.bulk.workers import ShardPredictor
from mgl.data.records import record_id
from mgl.errors import DataError, MGLError

#: The CPUs the driver's readers keep free of the actor pool on a cluster of few CPUs: Ray Data
#: schedules read tasks beside the actors, and a pool that takes every CPU starves them.
READER_CPUS = 1.0


@dataclass(frozen=True)
class Columns:
    text: str = "text"
    pair: str | None = None
    id: str | None = None

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(c for c in (self.text, self.pair, self.id) if c is not None))


def _row_strings(values: dict, columns: Columns, source, record) -> tuple[str, str | None, str | None]:
    text, pair = check_input(
        values,
        source=source,
        record=record,
        text_column=columns.text,
        pair_column=columns.pair,
        pair_required=columns.pair is not None,
    )
    rid = record_id(values, columns.id, source=source, record=record) if columns.id else None
    return text, pair, rid


def _check_parquet_batch(batch, *, columns: Columns, file) -> dict:
    """One row per file of a Parquet batch: its rows and its first bad row (-1: none), checked as
    :func:`mgl.bulk.streaming.checked_row` checks a record (the driver adds the record number)."""
    files = _file_of(batch, file)
    out: dict[str, list] = {"file": [], "rows": [], "bad": [], "message": []}
    for i, values in enumerate(batch.select(columns.names).to_pylist()):
        if not out["file"] or out["file"][-1] != files[i]:
            out["file"].append(int(files[i]))
            out["rows"].append(0)
            out["bad"].append(-1)
            out["message"].append("")
        out["rows"][-1] += 1
        if out["bad"][-1] < 0:
            try:
                _row_strings(values, columns, None, None)
            except MGLError as exc:
                out["bad"][-1], out["message"][-1] = out["rows"][-1] - 1, exc.message
    return {k: np.array(v, dtype=object if k == "message" else np.int64) for k, v in out.items()}


def _parquet_rows(batch, *, columns: Columns, file) -> dict:
    """A Parquet batch in the common row format: file index, text, pair text, id (None: default)."""
    texts, pairs, ids = [], [], []
    for values in batch.select(columns.names).to_pylist():
        text, pair, rid = _row_strings(values, columns, None, None)
        texts.append(text)
        pairs.append(pair)
        ids.append(rid)
    return _rows(_file_of(batch, file), texts, pairs, ids)


def _rows(file, texts: list, pairs: list, ids: list) -> dict:
    import pyarrow as pa

    return pa.table(
        {
            "file": pa.array(np.broadcast_to(np.asarray(file, dtype=np.int64), (len(texts),)), pa.int64()),
            "text": pa.array(texts, pa.string()),
            "pair": pa.array(pairs, pa.string()),
            "id": pa.array(ids, pa.string()),
        }
    )


def _read_pieces(batch, *, columns: Columns) -> dict:
    """Rows of the planned pieces of text files, read by mgl's reader on the worker
    (:func:`mgl.bulk.plan.read_shard`, which checks the planned row count)."""
    import pyarrow as pa

    tables = []
    for blob in batch.column("piece").to_pylist():
        item = json.loads(blob)
        rows = read_shard(
            ShardSpec.from_dict(item["shard"]),
            text_column=columns.text,
            pair_column=columns.pair,
            id_column=columns.id,
        )
        pairs = rows.pairs if rows.pairs is not None else [None] * len(rows.texts)
        ids = rows.ids if columns.id else [None] * len(rows.texts)  # the driver numbers default ids
        tables.append(_rows(item["file"], rows.texts, pairs, ids))
    return pa.concat_tables(tables)


class _Predictor:
    """The actor of the pool: loads the model once, predicts batches of rows."""

    def __init__(self, worker: dict, pairs: bool, batch_size: int | None, threads: int):
        self.predictor = ShardPredictor(**worker, batch_size=batch_size, threads=threads)
        self.pairs = pairs

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        pairs = [None if p is None else str(p) for p in batch["pair"]] if self.pairs else None
        return {"file": batch["file"], "id": batch["id"], "probs": self.predictor.predict(texts, pairs)}


@dataclass
class RayLayout:
    """The inputs as the Ray path reads them: every file's plan (its first row in the stream, its rows)."""

    files: list[FilePlan]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def _quiet(ray) -> None:
    import logging

    # the driver draws one progress bar and reports errors itself
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.verbose_progress = False
    context.execution_options.preserve_order = True  # rows come back in stream order


def _segments(ray, plans: Sequence[FilePlan], columns: Columns, fn) -> list:
    """The Ray Datasets that read ``plans`` in order, one per run of consecutive files of one kind:
    a run of Parquet files is one ``read_parquet`` (its rows in file order under
    ``preserve_order``; each row's file known by its path), a text file is its pieces read by mgl's
    reader. Datasets joined by ``union`` interleave their blocks, so the driver places every row
    by its file and its place in that file's rows, never by arrival alone."""
    segments: list = []
    run: list[FilePlan] = []

    def flush() -> None:
        if not run:
            return
        if "path" in columns.names:  # Ray's path column would hide the user's: one read per file
            for p in run:
                segments.append(_parquet_run(ray, [p], columns, fn, with_paths=False))
        else:
            segments.append(_parquet_run(ray, list(run), columns, fn, with_paths=True))
        run.clear()

    for p in plans:
        if p.fmt == "parquet":
            run.append(p)
            continue
        flush()
        items = [
            {"piece": json.dumps({"file": p.index, "shard": ShardSpec(0, (piece,)).to_dict()})} for piece in p.pieces
        ]
        segments.append(
            ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
                _read_pieces,
                fn_kwargs={"columns": columns},
                batch_size=1,
                batch_format="pyarrow",
                num_cpus=0.1 * READER_CPUS,
            )
        )
    flush()
    return segments


def _parquet_run(ray, run: list[FilePlan], columns: Columns, fn, *, with_paths: bool):
    paths = [_key(p.path) for p in run]
    ds = ray.data.read_parquet(paths, include_paths=with_paths, num_cpus=0.1 * READER_CPUS)
    ds = ds.select_columns([*columns.names, "path"] if with_paths else columns.names)
    index = {k: p.index for k, p in zip(paths, run)} if with_paths else run[0].index
    return ds.map_batches(
        fn,
        fn_kwargs={"columns": columns, "file": index},
        batch_format="pyarrow",
        batch_size=None,
        num_cpus=0.1 * READER_CPUS,
    )


def _key(path) -> str:
    return os.path.normpath(os.path.abspath(str(path)))


def _file_of(batch, file) -> np.ndarray:
    """Each row's file index: ``file`` itself (one file), or looked up by Ray's ``path`` column."""
    if isinstance(file, int):
        return np.full(batch.num_rows, file, dtype=np.int64)
    return np.array([file[_key(p)] for p in batch.column("path").to_pylist()], dtype=np.int64)


def layout(
    pool: RayPool, files: Sequence[Path], shard_rows: int, columns: Columns
) -> RayLayout:  # must be called inside pool.session()
    """Plan and check every input before any work; the first bad record of the stream is an error
    naming its file and record (as one process names it)."""
    ray = require_ray()
    _quiet(ray)
    plans, text_error = file_plans(
        files, shard_rows, text_column=columns.text, pair_column=columns.pair, id_column=columns.id
    )
    # the Parquet files before the first bad text file (all where none is bad), checked on the workers
    stop = text_error[0] if text_error is not None else len(plans)
    parquet = [p for p in plans[:stop] if p.fmt == "parquet" and p.rows]
    if parquet:
        checks = _segments(ray, parquet, columns, _check_parquet_batch)
        ds = checks[0].union(*checks[1:]) if len(checks) > 1 else checks[0]
        seen = {p.index: 0 for p in parquet}
        first_bad: dict[int, DataError] = {}  # each file's first bad record (a file's rows come in order)
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for file, rows, bad, message in zip(batch["file"], batch["rows"], batch["bad"], batch["message"]):
                    file = int(file)
                    if bad >= 0 and file not in first_bad:
                        first_bad[file] = DataError(str(message), source=plans[file].path, record=seen[file] + bad + 1)
                    seen[file] += int(rows)
        except ray.exceptions.RayError as exc:
            raise _worker_error(exc, "a Parquet input could not be read on the Ray workers") from None
        if first_bad:
            raise first_bad[min(first_bad)]
        for p in parquet:
            if seen[p.index] != p.rows:
                raise DataError(f"read {seen[p.index]} rows where the footer holds {p.rows}", source=p.path)
    if text_error is not None:
        raise text_error[1]
    return RayLayout(plans)


def predict_into(
    pool: RayPool,
    layout_: RayLayout,
    columns: Columns,
    *,
    shard_rows: int,
    done: set[int],
    worker: dict,
    batch_size: int | None,
    write: Callable[[int, list[str], np.ndarray], None],
    skipped: Callable[[int], None],
) -> None:
    """Predict the rows of the shards not in ``done`` and hand each finished shard to ``write``
    (``skipped`` counts the rows of files that need no reading). Inside ``pool.session()``."""
    ray = require_ray()
    _quiet(ray)
    total = layout_.rows
    last = (total - 1) // shard_rows

    def needed(p: FilePlan) -> bool:
        return p.rows > 0 and any(
            k not in done for k in range(p.first // shard_rows, (p.first + p.rows - 1) // shard_rows + 1)
        )

    read = [p for p in layout_.files if needed(p)]
    for p in layout_.files:
        if p.rows and not needed(p):
            skipped(p.rows)
    if not read:
        return
    segments = _segments(ray, read, columns, _parquet_rows)
    ds = segments[0].union(*segments[1:]) if len(segments) > 1 else segments[0]
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0)) if pool.device != "cpu" else 0
    cpus = float(resources.get("CPU", 1))
    workers = pool.workers or max(1, gpus or int(cpus))
    pool.workers_used = workers
    actor_cpus = 0 if gpus else max(0.1, min(1.0, (cpus - READER_CPUS) / workers)) if cpus > READER_CPUS else 0.1
    threads = max(1, int(cpus // workers))
    ds = ds.map_batches(
        _Predictor,
        fn_constructor_kwargs={
            "worker": worker,
            "pairs": columns.pair is not None,
            "batch_size": batch_size,
            "threads": threads,
        },
        batch_size=256,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=actor_cpus,
        num_gpus=1 if gpus else 0,
    )
    names = {p.index: p.path.name for p in layout_.files}
    firsts = {p.index: p.first for p in layout_.files}
    seen = {p.index: 0 for p in read}
    open_shards: dict[int, tuple[list, list, list]] = {}  # shard -> its rows so far (slot, id, probs)

    def size(k: int) -> int:
        return shard_rows if k < last else total - last * shard_rows

    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for file, rid, row in zip(batch["file"], batch["id"], batch["probs"]):
                file = int(file)
                local = seen[file]  # a file's rows arrive in order; files may interleave
                seen[file] += 1
                g = firsts[file] + local
                k = g // shard_rows
                if k in done:
                    continue
                slots, ids, probs = open_shards.setdefault(k, ([], [], []))
                slots.append(g - k * shard_rows)
                ids.append(str(rid) if columns.id else f"{names[file]}:{local + 1}")
                probs.append(row)
                if len(slots) == size(k):
                    del open_shards[k]
                    order = np.argsort(slots, kind="stable")
                    if not np.array_equal(np.asarray(slots)[order], np.arange(size(k))):
                        raise RuntimeError(f"shard {k} came back with rows missing or twice")
                    write(k, [ids[i] for i in order], np.stack(probs)[order])
    except ray.exceptions.RayError as exc:
        raise _worker_error(exc, "an input could not be read or predicted on the Ray workers") from None
    for p in read:
        if seen[p.index] != p.rows or open_shards:
            raise DataError(
                f"read {seen[p.index]} rows where {p.rows} were planned; did the input change during the run?",
                source=p.path,
            )


def _worker_error(exc: BaseException, what: str) -> MGLError:
    """The user's error a worker raised (an :class:`MGLError` carried by Ray's wrappers), as it was
    raised; else a :class:`DataError` with the first line of the underlying error."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, MGLError):
            return e
        todo += [getattr(e, "cause", None), e.__cause__, e.__context__]
    lines = [line.strip() for line in str(exc).splitlines() if "Error" in line or "Exception" in line]
    return DataError(f"{what} ({lines[-1] if lines else type(exc).__name__})")
