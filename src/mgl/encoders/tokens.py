"""Texts to token ids: the inputs checked, the prefix applied, truncated, padded.

Every path that tokenizes (:meth:`mgl.encoders.text_encoder.TextEncoder.tokenize`, the embedding
loop :func:`mgl.encoders.embedding.embed_texts`, the token-state store
:mod:`mgl.encoders.prefix_states`) goes through these three functions, under one lock: a fast
tokenizer's truncation and padding settings are shared state ("Already borrowed" otherwise).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from mgl.encoders.spec import EncoderSpec
from mgl.errors import ConfigError

TOKENIZER_LOCK = threading.RLock()
"""Tokenisation may run in several threads (``mgl serve``'s workers)."""


def check_inputs(texts: Sequence[str], pairs: Sequence[str | None] | None) -> tuple[list[str], list[str | None]]:
    """``(texts, pairs)`` as lists, every text a string and every pair a string or None (ConfigError otherwise)."""
    if isinstance(texts, str):
        raise ConfigError("texts must be a sequence of strings, not a single string")
    texts = list(texts)
    for i, text in enumerate(texts, 1):
        if not isinstance(text, str):
            raise ConfigError(f"text {i} is a {type(text).__name__}, not a string")
    if pairs is None:
        return texts, [None] * len(texts)
    if isinstance(pairs, str):
        raise ConfigError("pairs must be a sequence of strings (or None), not a single string")
    pairs = list(pairs)
    if len(pairs) != len(texts):
        raise ConfigError(f"{len(texts)} texts but {len(pairs)} pair texts")
    for i, pair in enumerate(pairs, 1):
        if pair is not None and not isinstance(pair, str):
            raise ConfigError(f"pair text {i} is a {type(pair).__name__}, not a string or None")
    return texts, pairs


def token_features(
    tokenizer: Any, spec: EncoderSpec, texts: list[str], pairs: list[str | None]
) -> list[dict[str, list[int]]]:
    """Unpadded token features per input: ``spec``'s prefix applied, truncated to its ``max_length``."""
    prefix = spec.prefix if spec.prefix is not None else ""
    features: list[dict[str, list[int]] | None] = [None] * len(texts)
    groups = (
        [i for i, p in enumerate(pairs) if p is None],
        [i for i, p in enumerate(pairs) if p is not None],
    )
    for kind, indices in enumerate(groups):
        if not indices:
            continue
        first = [prefix + texts[i] for i in indices]
        second = [pairs[i] for i in indices] if kind == 1 else None
        with TOKENIZER_LOCK:
            encoded = tokenizer(first, second, truncation="longest_first", max_length=spec.max_length, padding=False)
        names = [k for k in encoded if k in ("input_ids", "token_type_ids", "attention_mask")]
        for row, i in enumerate(indices):
            features[i] = {k: encoded[k][row] for k in names}
    return features  # type: ignore[return-value]


def pad_features(tokenizer: Any, features: list[dict[str, list[int]]], length: int | None = None) -> Any:
    """A padded batch (PyTorch tensors) of ``features``: to the longest, or to exactly ``length`` tokens."""
    with TOKENIZER_LOCK:
        if length is None:
            return tokenizer.pad(features, padding=True, return_tensors="pt")
        return tokenizer.pad(features, padding="max_length", max_length=length, return_tensors="pt")
