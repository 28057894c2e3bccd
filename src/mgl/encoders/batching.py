"""How inputs are grouped into padded batches for the encoder, and why each text gets one answer.

Two planners:

* :func:`plan_bucket_batches` (every frozen embedding, :meth:`TextEncoder.embed`): each input is
  padded to :func:`bucket_length` of its *own* token count, a multiple of :data:`PAD_MULTIPLE`,
  and a batch holds inputs of one bucket only. An input's padded length, and so every shape
  its computation sees, therefore never depends on the inputs it is batched with.
* :func:`plan_length_batches`: inputs sorted by length, a batch padded to its longest input
  (optionally bounded in padding). Used where batch mates cannot change a result, such as
  a pooling head reading stored token states.

Why buckets: measured on the embedded multilingual-e5-small in bfloat16 (CPU), a review's
pooled vector does not change with the batch size or its position in the batch when the
padded length is fixed (difference exactly 0), but changes by up to about 4e-3 when the same
review is padded to another length (its batch mates' longest): bfloat16 kernels block their
reductions by sequence length. In float32 the padded length changes nothing measurable. So
fixing each input's padded length by its own length makes the result a function of the
input alone, in every precision: alone, in any batch, duplicated, under concurrent load.
Cost: at most ``PAD_MULTIPLE - 1`` padding tokens per input, and batches split by bucket
(``benchmarks/bench_embed.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PAD_MULTIPLE", "bucket_length", "plan_bucket_batches", "plan_length_batches"]

PAD_MULTIPLE = 16
"""Every input is padded to the next multiple of this many tokens (capped at the maximum length)."""


def bucket_length(length: int, max_length: int, multiple: int = PAD_MULTIPLE) -> int:
    """The padded length of an input of ``length`` tokens: the next multiple of ``multiple``,
    never beyond ``max_length`` (nor below ``length``)."""
    if length < 1:
        raise ValueError(f"an input has at least one token, got {length}")
    rounded = -(-length // multiple) * multiple
    return max(length, min(rounded, max_length))


def plan_bucket_batches(
    lengths: Sequence[int],
    max_length: int,
    batch_size: int,
    max_tokens: int | None = None,
    multiple: int = PAD_MULTIPLE,
) -> list[tuple[int, list[int]]]:
    """``(padded length, indices)`` per batch: inputs grouped by :func:`bucket_length`, longest
    bucket first, at most ``batch_size`` inputs (and, with ``max_tokens``, at most that many
    padded tokens, but always at least one input) per batch; input order kept within a bucket."""
    buckets: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        buckets.setdefault(bucket_length(n, max_length, multiple), []).append(i)
    batches: list[tuple[int, list[int]]] = []
    for padded in sorted(buckets, reverse=True):
        per_batch = batch_size
        if max_tokens is not None:
            per_batch = max(1, min(batch_size, max_tokens // padded))
        members = buckets[padded]
        batches.extend((padded, members[s : s + per_batch]) for s in range(0, len(members), per_batch))
    return batches


def plan_length_batches(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None, max_padding: float | None = None
) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first.

    A batch holds at most ``batch_size`` inputs and, with ``max_tokens``, at most that many
    padded tokens, and with ``max_padding``, at most that share of padding over its real
    tokens (but always at least one input).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        padded = (len(current) + 1) * longest
        if current and (
            len(current) >= batch_size
            or (max_tokens is not None and padded > max_tokens)
            or (max_padding is not None and padded > (1 + max_padding) * (real + lengths[i]))
        ):
            batches.append(current)
            current = []
            real = 0
        current.append(i)
        real += lengths[i]
    if current:
        batches.append(current)
    return batches
