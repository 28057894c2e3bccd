"""Work spread over processes and machines: predicting a corpus, embedding a training corpus.

* :mod:`mgl.bulk.plan`: a corpus cut into shards that a worker can read on its own;
* :mod:`mgl.bulk.workers`: what one worker does with one shard or chunk (it loads the model or
  encoder once);
* :mod:`mgl.bulk.executors`: where workers run: local processes or a Ray Data actor pool;
* :mod:`mgl.bulk.ray_predict`: ``mgl predict --executor ray`` as one Ray Data pipeline
  (``read_parquet`` / mgl's reader on the workers -> ``map_batches`` on an actor pool -> shards
  written by the driver).

The driver keeps the single record: workers return results, and the driver writes each output
shard or cache entry, so a worker that dies and is retried never writes anything twice.
"""
