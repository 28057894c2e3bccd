"""Text encoders: any Hugging Face encoder, the embedded multilingual-e5-small default, the embedding cache.

The names below are imported lazily (on first use), so that ``import mgl.encoders`` stays cheap
and does not load torch until an encoder is actually needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from mgl.encoders.cache import CacheWarning, EmbeddingCache, cache_key
    from mgl.encoders.device import resolve_device
    from mgl.encoders.prefix_states import PrefixStateStore, compute_prefix_states
    from mgl.encoders.text_encoder import EncoderSpec, TextEncoder

_EXPORTS = {
    "EncoderSpec": "mgl.encoders.text_encoder",
    "TextEncoder": "mgl.encoders.text_encoder",
    "EmbeddingCache": "mgl.encoders.cache",
    "CacheWarning": "mgl.encoders.cache",
    "cache_key": "mgl.encoders.cache",
    "resolve_device": "mgl.encoders.device",
    "PrefixStateStore": "mgl.encoders.prefix_states",
    "compute_prefix_states": "mgl.encoders.prefix_states",
}

__all__ = [
    "CacheWarning",
    "EmbeddingCache",
    "EncoderSpec",
    "PrefixStateStore",
    "TextEncoder",
    "cache_key",
    "compute_prefix_states",
    "resolve_device",
]
assert set(__all__) == set(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mgl.encoders' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
