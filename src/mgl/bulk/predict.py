"""Predicting a corpus into a folder of shards, in this process or on a pool of workers.

:func:`predict_stream` is ``mgl predict --output DIR``: the reading, the shards, the manifest and
the atomic writes are :mod:`mgl.bulk.streaming`'s; the planning and the workers are
:mod:`mgl.bulk.plan`'s and :mod:`mgl.bulk.workers`'; the pools are :mod:`mgl.bulk.executors`'.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path

from mgl.bulk import ray_predict
from mgl.bulk.executors import RayPool
from mgl.bulk.plan import plan_shards
from mgl.bulk.ray_predict import Columns
from mgl.bulk.streaming import MANIFEST, expand_inputs, manifest_for, prepare_output, read_rows, shards, write_shard
from mgl.bulk.workers import ShardPredictor
from mgl.errors import DataError
from mgl.outputs import check_shard_folder


def predict_stream(
    clf,
    inputs: Sequence[str],
    out: Path,
    *,
    model_dir: Path,
    text_column: str = "text",
    pair_column: str | None = None,
    id_column: str | None = None,
    shard_rows: int = 10_000,
    output_format: str = "parquet",
    batch_size: int | None = None,
    progress: bool = True,
    pool=None,
    worker: dict | None = None,
) -> dict:
    """Predict every input row into ``out``'s shards (continuing a killed run); the run's summary.

    Without ``pool``, ``clf`` predicts here, reading the input once. With local worker processes
    (:class:`mgl.bulk.executors.LocalPool`), the shards are planned first
    (:func:`mgl.bulk.plan.plan_shards`), each worker loads the model once (``worker``: the keyword
    arguments of :class:`mgl.bulk.workers.ShardPredictor`), reads and predicts whole shards, and
    this process writes each shard as it comes back, so a shard is written once whatever happens
    to the workers. With a Ray pool (:class:`mgl.bulk.executors.RayPool`), the inputs are read on
    the workers by Ray Data (:mod:`mgl.bulk.ray_predict`) and this process writes the shards. The
    output is the same every way.
    """

    if shard_rows < 1:
        raise DataError(f"--shard-rows must be >= 1, got {shard_rows}")
    if output_format not in ("parquet", "jsonl"):
        raise DataError(f"--output-format must be parquet or jsonl, got {output_format!r}")
    files = expand_inputs(inputs)
    out = check_shard_folder(out, inputs)
    options = {
        "text_column": text_column,
        "pair_column": pair_column,
        "id_column": id_column,
        "shard_rows": shard_rows,
        "output_format": output_format,
    }
    ray = isinstance(pool, RayPool)
    with pool.session() if ray else contextlib.nullcontext():
        # every record checked before any work (and before the output folder is touched): a bad
        # record stops the run here, naming the first one, whatever the executor
        if ray:
            columns = Columns(text_column, pair_column, id_column)
            layout = ray_predict.layout(pool, files, shard_rows, columns)
            rows = layout.rows

            def run(done: set[int]) -> dict:
                return _predict_on_ray(
                    clf,
                    pool,
                    layout,
                    columns,
                    out,
                    done,
                    files,
                    shard_rows,
                    output_format,
                    batch_size,
                    progress,
                    worker,
                )
        else:
            plan = plan_shards(files, shard_rows, text_column=text_column, pair_column=pair_column, id_column=id_column)
            rows = sum(s.rows for s in plan)

            def run(done: set[int]) -> dict:
                return _predict_into(
                    clf,
                    inputs,
                    files,
                    plan,
                    out,
                    done,
                    model_dir=model_dir,
                    text_column=text_column,
                    pair_column=pair_column,
                    id_column=id_column,
                    shard_rows=shard_rows,
                    output_format=output_format,
                    batch_size=batch_size,
                    progress=progress,
                    pool=pool,
                    worker=worker,
                )

        if rows == 0:
            raise DataError("the input holds no rows to predict", source=", ".join(map(str, inputs)))
        return _in_output(out, manifest_for(files, model_dir, options), run)


def _in_output(out: Path, manifest: dict, run) -> dict:
    """``run(done)`` with the output folder prepared (``done``: the shards an earlier run of the
    same job finished); a run that fails before its first shard leaves the folder as it found it."""
    created, fresh = not out.exists(), not out.exists() or not any(out.iterdir())
    done = prepare_output(out, manifest)
    try:
        return run(done)
    except BaseException:
        # a run that failed before its first shard leaves the folder as it found it (its manifest goes)
        if fresh and not any(p.name != MANIFEST for p in out.iterdir()):
            (out / MANIFEST).unlink(missing_ok=True)
            if created:
                out.rmdir()
        raise


def _predict_into(
    clf,
    inputs,
    files,
    plan,
    out: Path,
    done: set[int],
    *,
    model_dir,
    text_column,
    pair_column,
    id_column,
    shard_rows,
    output_format,
    batch_size,
    progress,
    pool,
    worker,
) -> dict:
    from tqdm.auto import tqdm

    id_name = id_column or "id"
    t0 = time.perf_counter()
    n_new = n_rows = n_shards = 0

    def write(k: int, ids: list[str], probs, names: list[str]) -> None:
        nonlocal n_new
        labels = [names[i] for i in probs.argmax(1)]
        write_shard(out, k, ids, labels, probs, names, id_name, output_format)
        n_new += len(ids)
        bar.update(len(ids))

    if pool is None:
        bar = tqdm(
            total=sum(s.rows for s in plan), unit="text", desc="predicting", disable=not progress, dynamic_ncols=True
        )
        try:
            for k, shard in enumerate(
                shards(
                    read_rows(files, text_column=text_column, pair_column=pair_column, id_column=id_column), shard_rows
                )
            ):
                n_rows += len(shard.texts)
                n_shards = k + 1
                if k in done:  # finished by an earlier run: read, not embedded
                    bar.update(len(shard.texts))
                    continue
                write(
                    k,
                    shard.ids,
                    clf.predict_proba_embeddings(
                        clf.embed(shard.texts, shard.pairs, batch_size=batch_size), shard.texts, shard.pairs
                    ),
                    list(clf.label_names),
                )
        finally:
            bar.close()
    else:
        n_rows, n_shards = sum(s.rows for s in plan), len(plan)
        planned = {s.k: s for s in plan if s.k not in done}
        label_names = list(clf.label_names) if clf is not None else None
        bar = tqdm(
            total=n_rows,
            initial=n_rows - sum(s.rows for s in planned.values()),
            unit="text",
            desc="predicting",
            disable=not progress,
            dynamic_ncols=True,
        )
        try:
            for result in pool.map(
                ShardPredictor,
                {
                    **(worker or {}),
                    "text_column": text_column,
                    "pair_column": pair_column,
                    "id_column": id_column,
                    "batch_size": batch_size,
                },
                [s.to_dict() for s in planned.values()],
            ):
                names = result["label_names"]
                if label_names is not None and names != label_names:
                    raise DataError("a worker loaded a model with other labels", source=model_dir)
                spec = planned.pop(result["k"], None)
                if spec is None or len(result["ids"]) != spec.rows or len(result["probs"]) != spec.rows:
                    raise RuntimeError(f"shard {result['k']} came back twice or with a wrong number of rows")
                write(result["k"], result["ids"], result["probs"], names)
        finally:
            bar.close()
        if planned:  # never reported as done with a shard missing
            raise RuntimeError(
                f"the workers returned no result for shard(s) {sorted(planned)[:10]}; run the same "
                "command again to predict them"
            )
    if n_rows == 0:
        raise DataError("the input holds no rows to predict", source=", ".join(map(str, inputs)))
    seconds = time.perf_counter() - t0
    return {
        "rows": n_rows,
        "shards": n_shards,
        "resumed_after_shards": len(done),
        "predicted_now": n_new,
        "seconds": seconds,
        "texts_per_second": n_new / seconds if seconds > 0 else 0.0,
        "files": len(files),
        "workers": getattr(pool, "workers_used", None) if pool is not None else 1,
    }


def _predict_on_ray(
    clf,
    pool,
    layout,
    columns,
    out: Path,
    done: set[int],
    files,
    shard_rows,
    output_format,
    batch_size,
    progress,
    worker,
) -> dict:
    """The Ray Data path (:mod:`mgl.bulk.ray_predict`): the same shards, written here as they complete."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    names = list(clf.label_names)
    n_new = 0
    bar = tqdm(total=layout.rows, unit="text", desc="predicting", disable=not progress, dynamic_ncols=True)

    def write(k: int, ids: list[str], probs) -> None:
        nonlocal n_new
        write_shard(out, k, ids, [names[i] for i in probs.argmax(1)], probs, names, columns.id or "id", output_format)
        n_new += len(ids)
        bar.update(len(ids))

    try:
        ray_predict.predict_into(
            pool,
            layout,
            columns,
            shard_rows=shard_rows,
            done=done,
            worker=worker or {},
            batch_size=batch_size,
            write=write,
            skipped=bar.update,
        )
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    return {
        "rows": layout.rows,
        "shards": -(-layout.rows // shard_rows),
        "resumed_after_shards": len(done),
        "predicted_now": n_new,
        "seconds": seconds,
        "texts_per_second": n_new / seconds if seconds > 0 else 0.0,
        "files": len(files),
        "workers": pool.workers_used,
    }
