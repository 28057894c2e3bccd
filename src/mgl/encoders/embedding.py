"""The frozen embedding loop of :meth:`mgl.encoders.TextEncoder.embed`: cache lookups, then the misses in length buckets.

Identical inputs are computed once. With a cache, every input is looked up first; only the
misses are computed, then stored, batch by batch (an interrupted run keeps what it finished).
Misses are tokenised once and each is padded to the bucket of its own token count
(:func:`mgl.encoders.batching.plan_bucket_batches`), so an input's vector is the same alone, in
any batch, duplicated or under concurrent load, in bf16 as in fp32.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mgl.encoders.batching import plan_bucket_batches
from mgl.encoders.tokens import check_inputs, pad_features, token_features
from mgl.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from mgl.encoders.cache import EmbeddingCache


def embed_texts(
    encoder,
    texts: Sequence[str],
    pairs: Sequence[str | None] | None = None,
    *,
    batch_size: int = 32,
    cache: EmbeddingCache | None = None,
    progress: bool = True,
    max_tokens: int | None = None,
    pooler=None,
) -> np.ndarray:
    """Frozen embeddings ``[n, dim]`` (float32) of a :class:`~mgl.encoders.TextEncoder`'s inputs, in
    input order; see :meth:`TextEncoder.embed`."""
    from tqdm.auto import tqdm

    if pooler is not None and cache is not None:
        raise ConfigError("embed: a pooler's vectors are not the encoder's; they cannot go through the embedding cache")

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, not {batch_size!r}")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ConfigError(f"max_tokens must be a positive integer, not {max_tokens!r}")
    texts, pairs = check_inputs(texts, pairs)
    slots: dict[tuple[str, str | None], int] = {}
    where = [slots.setdefault((t, p), len(slots)) for t, p in zip(texts, pairs)]
    distinct = list(slots)
    vectors = np.empty((len(distinct), encoder.dim), dtype=np.float32)
    todo = list(range(len(distinct)))
    keys: list[str] | None = None
    if cache is not None and distinct:
        identity, spec = encoder.identity, encoder.spec
        keys = [cache.key(identity, spec.pooling, spec.prefix, spec.max_length, t, p) for t, p in distinct]
        found = cache.get_many(keys)
        todo = []
        for i, key in enumerate(keys):
            vector = found.get(key)
            if vector is not None and vector.shape == (encoder.dim,):
                vectors[i] = vector
            else:
                todo.append(i)

    if todo:
        features = token_features(
            encoder.tokenizer, encoder.spec, [distinct[i][0] for i in todo], [distinct[i][1] for i in todo]
        )
        lengths = [len(f["input_ids"]) for f in features]
        was_training = encoder.training
        encoder.eval()
        bar = tqdm(
            total=len(todo),
            desc=f"embedding ({Path(encoder._ref).name or encoder._ref})",
            unit="text",
            file=sys.stderr,
            disable=not progress,
        )
        try:
            for padded, batch in plan_bucket_batches(lengths, encoder.spec.max_length, batch_size, max_tokens):
                pooled = encoder.encode_batch(
                    pad_features(encoder.tokenizer, [features[j] for j in batch], padded), pooler
                )
                rows = pooled.float().cpu().numpy()
                targets = [todo[j] for j in batch]
                vectors[targets] = rows
                if cache is not None and keys is not None:
                    cache.put_many((keys[t], row) for t, row in zip(targets, rows))
                bar.update(len(batch))
        finally:
            bar.close()
            encoder.train(was_training)
    return vectors[where] if where else np.zeros((0, encoder.dim), dtype=np.float32)
