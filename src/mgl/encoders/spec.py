"""What identifies an encoder configuration: :class:`EncoderSpec` (model, pooling, prefix, maximum length, precision).

Free of torch, so that the configuration (:meth:`mgl.config.EncoderConfig.spec`) can build one
without loading a model. :attr:`mgl.encoders.TextEncoder.identity` adds to it a fingerprint of the
loaded weights and tokenizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from mgl.errors import ConfigError

POOLINGS = ("cls", "mean")
# trainable poolings over the frozen encoder's final token states (encoder.pooling_head)
POOLING_HEADS = ("none", "attention")
PRECISIONS = ("fp32", "bf16", "auto")
DEFAULT_MODEL = "multilingual-e5-small"
MIN_MAX_LENGTH = 8
"""The shortest ``max_length`` accepted, by the spec and the configuration alike (special tokens
and a prefix take up to 5)."""


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

    model: str = DEFAULT_MODEL
    pooling: str | None = None
    prefix: str | None = None
    max_length: int = 256
    precision: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError(f"encoder model must be a non-empty name or directory, not {self.model!r}")
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {self.pooling!r}: use one of {', '.join(POOLINGS)}")
        if self.prefix is not None and not isinstance(self.prefix, str):
            raise ConfigError(f"encoder prefix must be a string, not {self.prefix!r}")
        if (
            isinstance(self.max_length, bool)
            or not isinstance(self.max_length, int)
            or self.max_length < MIN_MAX_LENGTH
        ):
            raise ConfigError(f"encoder max_length must be an integer >= {MIN_MAX_LENGTH}, not {self.max_length!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown encoder precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")

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
