"""One text encoder API over any Hugging Face encoder model.

:class:`TextEncoder` wraps ``AutoTokenizer`` + ``AutoModel`` (a hub name, a local directory, or
the embedded multilingual-e5-small, see :mod:`mgl.encoders.embedded_e5`) and turns texts (or
text pairs) into one pooled vector each. It has two paths:

* :meth:`TextEncoder.forward`: differentiable, for fine-tuning; gradients reach exactly the
  layers made trainable with :meth:`TextEncoder.set_trainable` (frozen by default).
* :meth:`TextEncoder.embed`: the frozen path, for everything that only needs vectors. It looks
  every input up in an :class:`~mgl.encoders.cache.EmbeddingCache` first, computes only the
  misses, and computes them fast but exactly: inputs are tokenised once, sorted by token count
  and batched so that a batch holds texts of similar length (far less padding than batches in
  input order; optionally capped by a token budget), run under ``torch.inference_mode`` with the
  model's default (SDPA) attention, in float32. Results come back in input order.

What identifies a configuration is an :class:`EncoderSpec` (model, pooling, prefix, maximum
length); :attr:`TextEncoder.identity` adds a fingerprint of the loaded weights and tokenizer, so
cached vectors of one model are never served for another, nor for the same model after its
weights changed (fine-tuning).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from mgl.config import ENCODER_TRAIN_MODES
from mgl.encoders.device import resolve_device
from mgl.encoders.embedding import embed_texts
from mgl.encoders.loading import (
    AUTO_PRECISION_ENV,
    auto_precision_override,
    config_digest,
    digest_tensors,
    load,
    locate,
    native_bf16,
    position_limit,
)
from mgl.encoders.spec import DEFAULT_MODEL, POOLINGS, PRECISIONS, EncoderSpec  # noqa: F401  (re-exported)
from mgl.encoders.tokens import check_inputs, pad_features, token_features
from mgl.errors import ConfigError, MGLError

if TYPE_CHECKING:  # pragma: no cover
    from transformers import BatchEncoding

    from mgl.encoders.cache import EmbeddingCache

__all__ = ["POOLINGS", "TRAINABLE_MODES", "EncoderSpec", "TextEncoder"]

TRAINABLE_MODES = ENCODER_TRAIN_MODES


_AUTO_MIN_COSINE = 0.999
_AUTO_PROBES = (
    "A short sentence to compare two precisions.",
    "Ein zweiter Satz, auf Deutsch.",
    "Une troisième phrase, en français, un peu plus longue que les autres.",
    "日本語の四つ目の文です。",
)


class TextEncoder(torch.nn.Module):
    """A Hugging Face encoder with pooling: texts (or text pairs) in, one vector per input out.

    Loads ``AutoTokenizer`` + ``AutoModel`` for ``spec.model`` (the directory made by
    :func:`~mgl.encoders.embedded_e5.prepare_embedded_e5` for the embedded aliases) in float32 on
    ``device`` (see :func:`~mgl.encoders.device.resolve_device`), in eval mode, all weights frozen.

    Attributes: ``spec`` (the :class:`EncoderSpec` with pooling and prefix resolved, never None),
    ``tokenizer``, ``model``, ``dim`` (hidden size), ``device``, ``identity`` (see below).
    """

    def __init__(self, spec: EncoderSpec | str = EncoderSpec(), *, device: str | torch.device | None = None):
        super().__init__()
        if isinstance(spec, str):
            spec = EncoderSpec(model=spec)
        elif not isinstance(spec, EncoderSpec):
            raise ConfigError(f"encoder spec must be an EncoderSpec or a model name, not {type(spec).__name__}")
        target = resolve_device(device)
        source = locate(spec.model)
        tokenizer, model = load(source, spec.model)
        spec = EncoderSpec(
            model=spec.model,
            pooling=spec.pooling if spec.pooling is not None else source.pooling,
            prefix=spec.prefix if spec.prefix is not None else source.prefix,
            max_length=spec.max_length,
            precision=spec.precision,
        )
        limit = position_limit(tokenizer, model.config)
        if limit is not None and spec.max_length > limit:
            raise ConfigError(
                f"max_length {spec.max_length} exceeds what encoder {spec.model!r} accepts ({limit} tokens)"
            )
        hidden = getattr(model.config, "hidden_size", None)
        if not isinstance(hidden, int):
            raise MGLError(f"encoder {spec.model!r} has no hidden_size in its config: not a text encoder model")

        self.spec: EncoderSpec = spec
        self.source_path: str = source.path
        self._ref = source.ref
        self.tokenizer = tokenizer
        self.model = model.to(target)
        self.dim: int = hidden
        self._tokenizer_fp = self._fingerprint_tokenizer()
        self._weights_fp: tuple[tuple, str] | None = None
        self.trainable: tuple[str, int] = ("none", 0)
        self.set_trainable("none")
        self.eval()
        self.precision: str = "fp32"
        """The precision in use (``auto`` resolved): ``fp32`` or ``bf16``."""
        self.precision_reason: str = "asked for" if spec.precision != "auto" else ""
        self.precision = self.choose_precision(spec.precision)

    # ------------------------------------------------------------------ properties

    @property
    def device(self) -> torch.device:
        """The device the model's weights are on."""
        return next(self.model.parameters()).device

    def choose_precision(self, asked: str) -> str:
        """``asked``, or for ``auto``: bf16 where the hardware has it natively and the pooled vectors
        of a few probe texts agree with fp32 (cosine >= 0.999), else fp32 (with a warning)."""
        if asked != "auto":
            return asked
        if auto_precision_override() == "fp32":
            self.precision_reason = f"{AUTO_PRECISION_ENV}=fp32 is set"
            return "fp32"
        if not native_bf16(self.device):
            self.precision_reason = f"no native bfloat16 on {self.device}"
            return "fp32"
        batch = self.tokenize(list(_AUTO_PROBES))
        with torch.inference_mode():
            self.precision = "fp32"
            full = self.encode_batch(batch)
            self.precision = "bf16"
            half = self.encode_batch(batch)
        cosine = float(torch.nn.functional.cosine_similarity(full, half, dim=1).min())
        if cosine < _AUTO_MIN_COSINE:
            import warnings

            self.precision_reason = f"bf16 disagreed with fp32 (min cosine {cosine:.5f} < {_AUTO_MIN_COSINE})"
            warnings.warn(f"encoder precision auto: {self.precision_reason}; using fp32", stacklevel=3)
            return "fp32"
        self.precision_reason = f"native bfloat16 on {self.device}, min cosine to fp32 {cosine:.5f} on probe texts"
        return "bf16"

    @property
    def identity(self) -> str:
        """A stable string naming this exact configuration, for cache keys.

        Model reference (canonical name, hub name or absolute directory) + a fingerprint of the
        weights (recomputed whenever a weight changed in place, e.g. by an optimiser step) + a
        fingerprint of the tokenizer + pooling + prefix + max_length.
        """
        return (
            f"{self._ref}|weights={self._fingerprint_weights()}|tokenizer={self._tokenizer_fp}"
            f"|pooling={self.spec.pooling}|prefix={json.dumps(self.spec.prefix)}|max_length={self.spec.max_length}"
            + ("" if getattr(self, "precision", "fp32") == "fp32" else f"|precision={self.precision}")
        )

    def _fingerprint_tokenizer(self) -> str:
        digest = hashlib.blake2b(type(self.tokenizer).__name__.encode(), digest_size=12)
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is not None:
            digest.update(backend.to_str().encode("utf-8"))
        else:
            digest.update(json.dumps(sorted(self.tokenizer.get_vocab().items())).encode("utf-8"))
        digest.update(json.dumps(self.tokenizer.model_input_names).encode())
        return digest.hexdigest()

    def _fingerprint_weights(self) -> str:
        """Hash of the config and of every weight's name, shape, dtype and a strided sample of values.

        Cached against the tensors' in-place version counters and storage addresses, so it is
        recomputed (in milliseconds) only after the weights changed.
        """
        tensors = list(self.model.named_parameters()) + list(self.model.named_buffers())
        state = tuple((name, t.data_ptr(), getattr(t, "_version", 0)) for name, t in tensors)
        if self._weights_fp is not None and self._weights_fp[0] == state:
            return self._weights_fp[1]
        digest = hashlib.blake2b(config_digest(self.model.config).encode(), digest_size=12)
        digest_tensors(digest, tensors)
        fingerprint = digest.hexdigest()
        self._weights_fp = (state, fingerprint)
        return fingerprint

    # ------------------------------------------------------------------ trainability

    @property
    def num_layers(self) -> int:
        """Number of transformer layers (the range of ``top_layers`` in :meth:`set_trainable`)."""
        return len(self._layer_stack())

    def _layer_stack(self) -> torch.nn.ModuleList:
        """The model's list of transformer layers (``encoder.layer`` for BERT-like models)."""
        n_layers = getattr(self.model.config, "num_hidden_layers", None)
        candidates = [m for _, m in self.model.named_modules() if isinstance(m, torch.nn.ModuleList) and len(m) > 0]
        for module in candidates:
            if len(module) == n_layers:
                return module
        if candidates:
            return max(candidates, key=len)
        raise ConfigError(f"cannot find the transformer layers of encoder {self.spec.model!r} for top-k training")

    def set_trainable(self, mode: str = "none", top_layers: int = 0) -> None:
        """Choose which weights receive gradients in :meth:`forward`.

        ``"none"``: all frozen. ``"top-k"``: only the last ``top_layers`` transformer layers
        (plus anything the model applies after its layers, such as a final norm), nothing below
        (embeddings and lower layers stay frozen). ``"all"``: every weight. Bad values raise
        ConfigError. Does not switch train/eval mode (call ``.train()`` for dropout).
        """
        if mode not in TRAINABLE_MODES:
            raise ConfigError(f"unknown trainable mode {mode!r}: use one of {', '.join(TRAINABLE_MODES)}")
        params = list(self.model.named_parameters())
        if mode == "none":
            wanted = set()
        elif mode == "all":
            wanted = {name for name, _ in params}
        else:
            layers = self._layer_stack()
            if isinstance(top_layers, bool) or not isinstance(top_layers, int) or not 1 <= top_layers <= len(layers):
                raise ConfigError(
                    f"top_layers must be an integer from 1 to {len(layers)} for mode 'top-k', not {top_layers!r}"
                )
            in_layers = {id(p): i for i, layer in enumerate(layers) for p in layer.parameters()}
            last = max(i for i, (_, p) in enumerate(params) if id(p) in in_layers)
            first_trainable_layer = len(layers) - top_layers
            wanted = {
                name
                for i, (name, p) in enumerate(params)
                if (id(p) in in_layers and in_layers[id(p)] >= first_trainable_layer)
                or (id(p) not in in_layers and i > last)
            }
        for name, param in params:
            param.requires_grad_(name in wanted)
        self.trainable = (mode, top_layers if mode == "top-k" else 0)

    def enable_gradient_checkpointing(self) -> None:
        """Recompute layer activations in the backward pass (less memory, more compute) while training."""
        if not getattr(self.model, "supports_gradient_checkpointing", False):
            raise ConfigError(f"{self.spec.model} does not support gradient checkpointing")
        self.model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The weights that currently require gradients (for an optimiser)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ tokenisation

    def tokenize(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None) -> BatchEncoding:
        """Model inputs for ``texts`` (and optional second texts ``pairs``) as padded tensors.

        The prefix is prepended to every text (the first text of a pair); pairs go through the
        tokenizer's pair encoding (separator tokens, segment ids where the model has them);
        inputs are truncated to ``max_length`` (``"longest_first"``) and padded to the longest
        in the batch. A ``None`` in ``pairs`` means a single text.
        """
        texts, pairs = check_inputs(texts, pairs)
        if not texts:
            raise ConfigError("nothing to tokenize: no texts given")
        return pad_features(self.tokenizer, token_features(self.tokenizer, self.spec, texts, pairs))

    # ------------------------------------------------------------------ encoding

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pool last hidden states ``[n, length, dim]`` into ``[n, dim]`` with the spec's pooling.

        ``"cls"``: the first real token of each input; ``"mean"``: the mean over the real tokens
        (attention mask 1), padding excluded.
        """
        if self.spec.pooling == "cls":
            first = attention_mask.to(torch.int64).argmax(dim=1)
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), first]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def encode_batch(self, batch: Mapping[str, torch.Tensor], pooler=None) -> torch.Tensor:
        """Pooled vectors ``[n, dim]`` for already tokenised inputs (moved to the model's device).

        ``pooler``: a module ``(hidden [n, T, dim] float32, attention mask [n, T]) -> [n, dim]`` used
        instead of the spec's pooling (a trained :class:`~mgl.encoders.pooling_head.AttentionPooling`)."""
        return (pooler or self.pool)(self._final_states(batch), batch["attention_mask"].to(self.device))

    def _final_states(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The model's ``last_hidden_state`` ``[n, length, dim]`` (float32) for tokenised inputs, in
        the encoder's precision: the bf16 copy without gradients, else autocast when bf16."""
        device = self.device
        inputs = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "token_type_ids", "attention_mask")}
        bf16 = getattr(self, "precision", "fp32") == "bf16"
        inference = self._bf16_inference_model() if bf16 else None
        if inference is not None:
            return inference(**inputs).last_hidden_state.float()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            return self.model(**inputs).last_hidden_state.float()

    def _bf16_inference_model(self):
        """For bf16 without gradients: a bfloat16 copy of the model (kept until a weight changes).

        Autocast casts the weights again at every call, which on a CPU costs time and, in a
        long-running server, memory (its RSS grew +8% over a load test against +1.7% in fp32);
        a copy in bfloat16 runs ~6% faster and keeps the RSS flat. Training (gradients on) runs
        the float32 master weights under autocast instead."""
        if torch.is_grad_enabled() or self.model.training:
            return None
        fingerprint = self._fingerprint_weights()
        copy_ = getattr(self, "_bf16_copy", None)
        if copy_ is None or copy_[0] != fingerprint:
            import copy

            self._bf16_copy = None
            model = copy.deepcopy(self.model).to(torch.bfloat16).eval()
            for p in model.parameters():
                p.requires_grad_(False)
            self._bf16_copy = (fingerprint, model)
        return self._bf16_copy[1]

    def forward(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None) -> torch.Tensor:
        """Pooled vectors ``[n, dim]``; gradients flow into the trainable layers."""
        return self.encode_batch(self.tokenize(texts, pairs))

    # ------------------------------------------------------------------ split forward (prefix states)

    def prefix_identity(self, frozen_layers: int) -> str:
        """Like :attr:`identity`, but fingerprinting only the weights below layer ``frozen_layers``.

        The embeddings and the first ``frozen_layers`` transformer layers determine the hidden
        states that enter layer ``frozen_layers``; training the layers above them (top-k) leaves
        this identity, and so the cached states, valid.
        """
        layers = self._layer_stack()
        if not 0 <= frozen_layers <= len(layers):
            raise ConfigError(f"frozen_layers must be from 0 to {len(layers)}, not {frozen_layers!r}")
        above = {id(p) for layer in layers[frozen_layers:] for p in layer.parameters()}
        in_layers = {id(p) for layer in layers for p in layer.parameters()}
        params = list(self.model.named_parameters())
        last = max((i for i, (_, p) in enumerate(params) if id(p) in in_layers), default=-1)
        digest = hashlib.blake2b(f"{self._ref}|frozen={frozen_layers}".encode(), digest_size=12)
        digest.update(config_digest(self.model.config).encode())
        # the layers below frozen_layers only: not a layer at or above it, nor the model's head after the layers
        digest_tensors(
            digest,
            [
                (name, t)
                for i, (name, t) in enumerate(params)
                if not (id(t) in above or (id(t) not in in_layers and i > last))
            ],
        )
        # the final states (every layer frozen) are computed in the encoder's precision, as its pooled vectors
        precision = self.precision if frozen_layers == len(layers) and self.precision != "fp32" else None
        return (
            f"{self._ref}|prefix-weights={digest.hexdigest()}|tokenizer={self._tokenizer_fp}"
            f"|prefix={json.dumps(self.spec.prefix)}|max_length={self.spec.max_length}|frozen_layers={frozen_layers}"
            + (f"|precision={precision}" if precision else "")
        )

    def hidden_states_before(self, batch: Mapping[str, torch.Tensor], layer: int) -> torch.Tensor:
        """The hidden states ``[n, length, dim]`` that enter transformer layer ``layer`` (0-based).

        ``layer == 0``: the embedding output. ``layer == num_layers``: the final token states
        (the model's ``last_hidden_state``, what the pooling reads; in bfloat16 where the encoder
        runs bf16 and no gradient is wanted, as :meth:`encode_batch`). Otherwise the forward
        pass stops after layer ``layer - 1`` (nothing above it is computed).
        """
        layers = self._layer_stack()
        if not 0 <= layer <= len(layers):
            raise ConfigError(f"layer must be from 0 to {len(layers)}, not {layer!r}")
        if layer == len(layers):
            return self._final_states(batch)
        device = self.device
        inputs = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "token_type_ids", "attention_mask")}
        if layer == 0:
            return self.model(**inputs, output_hidden_states=True).hidden_states[0]

        class _Stop(Exception):
            pass

        captured: list[torch.Tensor] = []

        def hook(_module, _args, output):
            captured.append(output[0] if isinstance(output, tuple) else output)
            raise _Stop

        handle = layers[layer - 1].register_forward_hook(hook)
        try:
            self.model(**inputs)
        except _Stop:
            pass
        finally:
            handle.remove()
        if not captured:  # pragma: no cover - a model that never runs its layer stack
            raise MGLError(f"encoder {self.spec.model!r} did not run transformer layer {layer - 1}")
        return captured[0]

    def run_layers(
        self,
        hidden: torch.Tensor,
        attention_mask: torch.Tensor,
        start: int,
        stop: int | None = None,
        *,
        autocast: bool = True,
    ) -> torch.Tensor:
        """Transformer layers ``start .. stop - 1`` (default: to the last) run on ``hidden``.

        ``hidden`` ``[n, length, dim]`` are the states entering layer ``start`` (as from
        :meth:`hidden_states_before`) and ``attention_mask`` ``[n, length]`` marks the real
        tokens. The attention mask is built by transformers' own ``create_bidirectional_mask``
        for the model's attention implementation. Gradients flow into trainable layers. With
        the encoder in bf16 the layers run under bfloat16 autocast over their float32 master
        weights (as :meth:`encode_batch` when training; ``autocast=False``: float32 throughout, for
        states that are cached as the float32 computation's); the result is float32.
        """
        from transformers.masking_utils import create_bidirectional_mask

        layers = self._layer_stack()
        stop = len(layers) if stop is None else stop
        if not 0 <= start <= stop <= len(layers):
            raise ConfigError(f"layers {start}..{stop} are not within the encoder's {len(layers)} layers")
        hidden = hidden.to(device=self.device, dtype=next(self.model.parameters()).dtype)
        attention_mask = attention_mask.to(self.device)
        mask = create_bidirectional_mask(config=self.model.config, inputs_embeds=hidden, attention_mask=attention_mask)
        bf16 = autocast and getattr(self, "precision", "fp32") == "bf16"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            for module in layers[start:stop]:
                out = module(hidden, mask)
                hidden = out[0] if isinstance(out, tuple) else out
        return hidden.float() if bf16 else hidden

    def forward_from(self, hidden: torch.Tensor, attention_mask: torch.Tensor, layer: int) -> torch.Tensor:
        """Pooled vectors ``[n, dim]``: the layers from ``layer`` up (:meth:`run_layers`), then the pooling.

        For BERT-family encoders (BERT, RoBERTa, XLM-R, MiniLM, e5), whose last layer's output
        is the model's output, this equals :meth:`encode_batch` on the inputs the states came from.
        """
        return self.pool(self.run_layers(hidden, attention_mask, layer), attention_mask.to(self.device))

    @torch.inference_mode()
    def embed(
        self,
        texts: Sequence[str],
        pairs: Sequence[str | None] | None = None,
        *,
        batch_size: int = 32,
        cache: EmbeddingCache | None = None,
        progress: bool = True,
        max_tokens: int | None = None,
        pooler=None,
    ) -> np.ndarray:
        """Frozen embeddings ``[n, dim]`` (float32) of ``texts`` (and ``pairs``), in input order.

        Identical inputs are computed once. With a ``cache``, every input is looked up first;
        only the misses are computed, then stored, batch by batch (an interrupted run keeps what
        it finished). Misses are tokenised once and each is padded to the bucket of its own token
        count (:func:`mgl.encoders.batching.bucket_length`); a batch holds one bucket, at most
        ``batch_size`` inputs (and at most ``max_tokens`` padded tokens). An input's result is
        therefore the same alone, in any batch, duplicated or under concurrent load, in bf16 as
        in fp32 (see :mod:`mgl.encoders.batching`). Runs in eval mode (the previous train/eval
        mode is restored). ``progress`` shows a tqdm bar on stderr. ``pooler``: pool the final
        token states with this module instead of the spec's pooling (see :meth:`encode_batch`);
        its vectors are not the encoder's, so no ``cache``.
        """

        return embed_texts(
            self,
            texts,
            pairs,
            batch_size=batch_size,
            cache=cache,
            progress=progress,
            max_tokens=max_tokens,
            pooler=pooler,
        )

    def extra_repr(self) -> str:
        spec = self.spec
        return f"model={spec.model!r}, pooling={spec.pooling}, prefix={spec.prefix!r}, max_length={spec.max_length}, dim={self.dim}"
