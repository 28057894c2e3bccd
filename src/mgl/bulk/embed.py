"""Filling the embedding cache for a training corpus, here or on workers.

:func:`embed_corpus` looks every distinct (text, pair) of the corpus up in the
:class:`~mgl.encoders.EmbeddingCache` under the encoder's identity, cuts the misses into chunks
and has them embedded, here (one process, all of torch's threads) or by a pool of
:mod:`mgl.bulk.executors` (local processes, a Ray Data actor pool), each worker loading the
encoder once. This process writes what comes back into the cache, chunk by chunk, so an
interrupted run keeps what it finished and a retried worker writes nothing twice. A training
run or grid with the same encoder settings then finds every text in the cache. Frozen vectors
do not depend on the batch a text is embedded in (:mod:`mgl.encoders.embedding`), so the
cache holds the same vectors whoever computed them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mgl.bulk.workers import ChunkEmbedder
from mgl.errors import ConfigError


def embed_corpus(
    texts: Sequence[str],
    pairs: Sequence[str | None] | None,
    enc,
    *,
    pool=None,
    cache=None,
    encoder=None,
    chunk_rows: int = 2048,
    progress: bool = True,
) -> dict:
    """Embed the texts of ``texts``/``pairs`` that the cache lacks under ``enc`` (an
    :class:`~mgl.config.EncoderConfig`; ``encoder``: its encoder, if loaded already); a summary
    (distinct texts, already cached, embedded, seconds)."""
    from tqdm.auto import tqdm

    from mgl.encoders import EmbeddingCache
    from mgl.encoders.featurizer import make_encoder

    if chunk_rows < 1:
        raise ConfigError(f"--chunk-rows must be >= 1, got {chunk_rows}")
    if enc.train != "none" or enc.pooling_head != "none":
        raise ConfigError(
            "the embedding cache holds a frozen encoder's vectors: encoder.train must be none and "
            "encoder.pooling_head none"
        )
    encoder = encoder if encoder is not None else make_encoder(enc)
    spec = encoder.spec
    cache = cache if cache is not None else EmbeddingCache()
    pairs = list(pairs) if pairs is not None else [None] * len(texts)
    distinct = list(dict.fromkeys(zip(texts, pairs)))
    keys = [cache.key(encoder.identity, spec.pooling, spec.prefix, spec.max_length, t, p) for t, p in distinct]
    found = cache.get_many(keys)
    todo = [i for i, key in enumerate(keys) if key not in found]
    chunks = [todo[s : s + chunk_rows] for s in range(0, len(todo), chunk_rows)]
    items = (
        {
            "chunk": c,
            "texts": [distinct[i][0] for i in chunk],
            "pairs": [distinct[i][1] for i in chunk],
            "batch_size": enc.batch_size,
        }
        for c, chunk in enumerate(chunks)
    )

    def here(items):  # this process, its encoder and all its threads
        for item in items:
            yield {
                "chunk": item["chunk"],
                "identity": encoder.identity,
                "vectors": encoder.embed(item["texts"], item["pairs"], batch_size=item["batch_size"], progress=False),
            }

    results = (
        here(items) if pool is None else pool.map(ChunkEmbedder, {"spec": spec.to_dict(), "device": enc.device}, items)
    )
    bar = tqdm(total=len(todo), desc="embedding", unit="text", disable=not progress, dynamic_ncols=True)
    t0 = time.perf_counter()
    try:
        for result in results:  # the misses' keys are known: stored here, without a second lookup
            if result["identity"] != encoder.identity:
                raise ConfigError(
                    f"a worker's encoder is not this one ({result['identity']} against "
                    f"{encoder.identity}): set encoder.precision (and the model) explicitly so "
                    "that every node embeds alike"
                )
            chunk = chunks[result["chunk"]]
            cache.put_many((keys[i], row) for i, row in zip(chunk, result["vectors"]))
            bar.update(len(chunk))
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    return {
        "texts": len(texts),
        "distinct": len(distinct),
        "cached_before": len(distinct) - len(todo),
        "embedded": len(todo),
        "seconds": seconds,
        "texts_per_second": len(todo) / seconds if seconds > 0 else 0.0,
        "identity": encoder.identity,
        "cache": str(cache.path),
    }
