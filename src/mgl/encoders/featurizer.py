"""Texts to node features, with one encoder configuration.

:func:`make_encoder` builds the encoder an :class:`~mgl.config.EncoderConfig` names;
:func:`build_features` turns an experiment's rows into node features: cached frozen
embeddings (the default); with a pooling head, the head over cached final token states; for
top-k training the top layers over cached lower-layer states; else the whole trainable encoder.
:class:`Featurizer` keeps the two together for the product: rows of an experiment to features
while training, new texts to the same features afterwards, and the trained state to save.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mgl.config import EncoderConfig
from mgl.encoders.prefix_states import PrefixStateStore, compute_prefix_states
from mgl.encoders.spec import EncoderSpec


def make_encoder(enc: EncoderConfig):
    """The :class:`~mgl.encoders.TextEncoder` of ``enc`` (its spec, device and trainable layers)."""
    from mgl.encoders import TextEncoder

    spec = EncoderSpec.from_config(enc)
    encoder = TextEncoder(spec, device=enc.device)
    encoder.set_trainable(enc.train, enc.top_layers)
    if enc.gradient_checkpointing and enc.train != "none":
        encoder.enable_gradient_checkpointing()
    return encoder


def build_features(data, enc: EncoderConfig, *, encoder=None, progress: bool = True, cache=None, prefix_root=None):
    """Node features for the table's rows: cached frozen embeddings; with a pooling head, the head
    over cached final token states; for top-k training the top layers over cached lower-layer
    states (``enc.prefix_cache``); else the whole trainable encoder. ``prefix_root``: the folder of
    the token-state stores (default ``MGL_HOME/prefix-states``)."""
    from mgl.encoders.node_features import EncoderFeatures, FrozenFeatures

    encoder = encoder if encoder is not None else make_encoder(enc)
    if enc.pooling_head != "none":
        return pooled_state_features(
            data.texts, data.pairs, enc, encoder, progress=progress, prefix_root=prefix_root
        ), encoder
    if enc.train == "none":
        from mgl.encoders import EmbeddingCache

        cache = cache if cache is not None else EmbeddingCache()
        emb = encoder.embed(data.texts, data.pairs, batch_size=enc.batch_size, cache=cache, progress=progress)
        if enc.centring == "language":
            from mgl.encoders.centring import centred

            emb, centre = centred(data, torch.as_tensor(emb))
            return FrozenFeatures(emb, device=encoder.device, centre=centre.float().cpu()), encoder
        return FrozenFeatures(emb, device=encoder.device), encoder
    if enc.train == "top-k" and enc.prefix_cache:
        from mgl.encoders.node_features import PrefixFeatures

        frozen = encoder.num_layers - encoder.trainable[1]
        store, locations = compute_prefix_states(
            encoder,
            data.texts,
            data.pairs,
            frozen,
            batch_size=enc.batch_size,
            progress=progress,
            store=PrefixStateStore.for_encoder(encoder, frozen, prefix_root),
        )
        return PrefixFeatures(encoder, store, locations, batch_size=enc.batch_size), encoder
    return EncoderFeatures(encoder, data.texts, data.pairs, batch_size=enc.batch_size), encoder


def pooled_state_features(texts, pairs, enc: EncoderConfig, encoder, *, progress: bool = True, prefix_root=None):
    """A fresh pooling head (``enc.pooling_head``) over the texts' final token states, which are
    computed once into the token-state store (every layer frozen; under ``prefix_root``, default
    ``MGL_HOME/prefix-states``) and read from there."""
    from mgl.encoders.node_features import PooledStateFeatures
    from mgl.encoders.pooling_head import make_pooling_head

    store = PrefixStateStore.for_encoder(encoder, encoder.num_layers, prefix_root)
    store, locations = compute_prefix_states(
        encoder, texts, pairs, encoder.num_layers, store=store, batch_size=enc.batch_size, progress=progress
    )
    head = make_pooling_head(enc.pooling_head, encoder.dim, enc.pooling_queries)
    # a bf16 encoder's states are exact in float16 and in bfloat16: the head reads them in bfloat16
    dtype = torch.bfloat16 if encoder.precision == "bf16" else torch.float32
    return PooledStateFeatures(head, store, locations, device=encoder.device, lr=enc.pooling_lr, dtype=dtype)


class Featurizer:
    """One encoder configuration's way from texts to node features (the body every method's head sits on).

    ``features(data)`` gives the experiment rows' features for training (and remembers them);
    ``embed(texts, pairs)`` gives new inputs the same features (each input's depend on it alone,
    :mod:`mgl.encoders.batching`); :func:`mgl.encoders.node_features.trained_state` is what a saved model keeps of them: the
    encoder weights that trained, or a trained pooling head."""

    def __init__(self, enc: EncoderConfig, *, encoder=None):
        self.config = enc
        self._encoder = encoder
        self.pooling_head: torch.nn.Module | None = None
        self.centre: torch.Tensor | None = None
        """``encoder.centring=language``: the target's mean vector, taken from every input's."""

    @property
    def encoder(self):
        """The text encoder (:func:`make_encoder`), loaded on first use."""
        if self._encoder is None:
            self._encoder = make_encoder(self.config)
        return self._encoder

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    def features(self, data, *, progress: bool = True, cache=None, prefix_root=None):
        """The node features of ``data``'s rows (see :func:`build_features`)."""
        features, _ = build_features(
            data, self.config, encoder=self.encoder, progress=progress, cache=cache, prefix_root=prefix_root
        )
        self.centre = getattr(features, "centre", None)
        return features

    def embed(
        self,
        texts: Sequence[str],
        pairs: Sequence[str | None] | None = None,
        *,
        cache=None,
        batch_size: int | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """New inputs' features ``[n, dim]`` (float32, CPU); ``cache`` is used for a frozen encoder's
        own vectors only (a trained encoder or a pooling head makes other vectors)."""
        batch_size = batch_size or self.config.batch_size
        if self.pooling_head is not None:
            return torch.as_tensor(
                self.encoder.embed(texts, pairs, batch_size=batch_size, progress=progress, pooler=self.pooling_head)
            )
        cache = cache if self.config.train == "none" else None
        vectors = torch.as_tensor(
            self.encoder.embed(texts, pairs, batch_size=batch_size, cache=cache, progress=progress)
        )
        if self.centre is not None:
            vectors = vectors.float() - self.centre.to(vectors.device)
        return vectors
