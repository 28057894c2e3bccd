"""Predicting a corpus into a folder of shards, in this process or on a pool of workers.

:func:`predict_stream` is ``mgl predict --output DIR``: the reading, the shards, the manifest and
the atomic writes are :mod:`mgl.streaming`'s; the planning and the workers are
:mod:`mgl.bulk.plan`'s and :mod:`mgl.bulk.workers`'; the pools are :mod:`mgl.bulk.executors`'.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from mgl.bulk.plan import plan_shards
from mgl.bulk.workers import ShardPredictor
from mgl.errors import DataError
from mgl.streaming import count_rows, expand_inputs, manifest_for, prepare_output, read_rows, shards, write_shard


def predict_stream(clf, inputs: Sequence[str], out: Path, *, model_dir: Path, text_column: str = "text",
                   pair_column: str | None = None, id_column: str | None = None, shard_rows: int = 10_000,
                   output_format: str = "parquet", batch_size: int | None = None, progress: bool = True,
                   pool=None, worker: dict | None = None) -> dict:
    """Predict every input row into ``out``'s shards (continuing a killed run); the run's summary.

    Without ``pool``, ``clf`` predicts here, reading the input once. With a pool
    (:mod:`mgl.bulk.executors`: local worker processes or a Ray Data actor pool), the shards are
    planned first (:func:`mgl.bulk.plan.plan_shards`), each worker loads the model once
    (``worker``: the keyword arguments of :class:`mgl.bulk.workers.ShardPredictor`), reads and
    predicts whole shards, and this process writes each shard as it comes back, so a shard is
    written once whatever happens to the workers. The output is the same either way.
    """
    from tqdm.auto import tqdm

    if shard_rows < 1:
        raise DataError(f"--shard-rows must be >= 1, got {shard_rows}")
    if output_format not in ("parquet", "jsonl"):
        raise DataError(f"--output-format must be parquet or jsonl, got {output_format!r}")
    files = expand_inputs(inputs)
    options = {"text_column": text_column, "pair_column": pair_column, "id_column": id_column,
               "shard_rows": shard_rows, "output_format": output_format}
    done = prepare_output(out, manifest_for(files, model_dir, options))
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
        bar = tqdm(total=count_rows(files), unit="text", desc="predicting", disable=not progress,
                   dynamic_ncols=True)
        try:
            for k, shard in enumerate(shards(read_rows(files, text_column=text_column, pair_column=pair_column,
                                                       id_column=id_column), shard_rows)):
                n_rows += len(shard.texts)
                n_shards = k + 1
                if k in done:  # finished by an earlier run: read, not embedded
                    bar.update(len(shard.texts))
                    continue
                write(k, shard.ids, clf.predict_proba_embeddings(clf.embed(shard.texts, shard.pairs,
                                                                           batch_size=batch_size)),
                      list(clf.label_names))
        finally:
            bar.close()
    else:
        plan = plan_shards(files, shard_rows, text_column=text_column)
        n_rows, n_shards = sum(s.rows for s in plan), len(plan)
        planned = {s.k: s for s in plan if s.k not in done}
        label_names = list(clf.label_names) if clf is not None else None
        bar = tqdm(total=n_rows, initial=n_rows - sum(s.rows for s in planned.values()), unit="text",
                   desc="predicting", disable=not progress, dynamic_ncols=True)
        try:
            for result in pool.map(ShardPredictor, {**(worker or {}), "text_column": text_column,
                                                    "pair_column": pair_column, "id_column": id_column,
                                                    "batch_size": batch_size},
                                   [s.to_dict() for s in planned.values()]):
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
            raise RuntimeError(f"the workers returned no result for shard(s) {sorted(planned)[:10]}; run the same "
                               "command again to predict them")
    if n_rows == 0:
        raise DataError("the input holds no rows to predict", source=", ".join(map(str, inputs)))
    seconds = time.perf_counter() - t0
    return {"rows": n_rows, "shards": n_shards, "resumed_after_shards": len(done),
            "predicted_now": n_new, "seconds": seconds, "texts_per_second": n_new / seconds if seconds > 0 else 0.0,
            "files": len(files), "workers": getattr(pool, "workers_used", None) if pool is not None else 1}
