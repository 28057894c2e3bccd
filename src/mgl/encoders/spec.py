"""What identifies an encoder configuration: :class:`EncoderSpec` (model, pooling, prefix, maximum length, precision).

Free of torch (:meth:`EncoderSpec.from_config` builds one without loading a model); its
defaults, accepted values and checks are the configuration's (:class:`mgl.config.EncoderConfig`). :attr:`mgl.encoders.TextEncoder.identity` adds to it a fingerprint of the
loaded weights and tokenizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from mgl.config import (  # noqa: F401  (re-exported: the encoder's values, defined with the configuration)
    ENCODER_DEFAULTS,
    MIN_MAX_LENGTH,
    POOLING_HEADS,
    POOLINGS,
    PRECISIONS,
    EncoderConfig,
    check_encoder_identity,
)
from mgl.errors import ConfigError

_DEFAULTS = ENCODER_DEFAULTS
DEFAULT_MODEL = _DEFAULTS.model
"""The default encoder (``encoder.model``'s default)."""


@dataclass(frozen=True)
class EncoderSpec:
    """What identifies an encoder configuration (serialisable with :meth:`to_dict`).

    ``model``: a Hugging Face hub name, a local model directory, or an alias of the embedded
    multilingual-e5-small (``"multilingual-e5-small"``, ``"e5-small"``, ``"default"``,
    ``"embedded"``). ``pooling``: ``"cls"`` (first token) or ``"mean"`` (mean of the last hidden
    states over the attention mask); ``prefix``: a string prepended to every input text (the
    first text of a pair). ``None`` means the model's default: mean pooling and ``"query: "``
    for the embedded e5; otherwise the pooling of a sentence-transformers ``1_Pooling`` config in
    a local directory if there is one, else ``"cls"``, and no prefix. ``max_length``: inputs are
    truncated to this many tokens (special tokens included). ``precision``: ``"auto"`` (default), ``"fp32"``, ``"bf16"``
    (without gradients a bfloat16 copy of the weights runs the forward pass, with gradients the
    float32 weights under bfloat16 autocast; pooling and the returned vectors stay float32) or
    ``"auto"`` (bf16 where the hardware has native bfloat16 and it agrees with fp32 on a few
    texts, see :func:`choose_precision`).
    """

    model: str = _DEFAULTS.model
    pooling: str | None = _DEFAULTS.pooling
    prefix: str | None = _DEFAULTS.prefix
    max_length: int = _DEFAULTS.max_length
    precision: str = _DEFAULTS.precision

    def __post_init__(self) -> None:
        check_encoder_identity(self.model, self.pooling, self.prefix, self.max_length, self.precision)

    @classmethod
    def from_config(cls, config: EncoderConfig) -> EncoderSpec:
        """The spec an :class:`~mgl.config.EncoderConfig` names."""
        return cls(
            model=config.model,
            pooling=config.pooling,
            prefix=config.prefix,
            max_length=config.max_length,
            precision=config.precision,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncoderSpec:
        """The spec saved by :meth:`to_dict`; unknown keys raise ConfigError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown encoder setting(s): {', '.join(unknown)}")
        return cls(**dict(data))
