"""Loading an encoder and naming what was loaded: where a model name loads from and its default
pooling and prefix (:func:`locate`), the Auto-class load (:func:`load`), the position limit, native
bfloat16 on the device, and the pieces of :attr:`TextEncoder.identity`'s weight fingerprints
(:func:`config_digest`, :func:`digest_tensors`). Used by :mod:`mgl.encoders.text_encoder`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from mgl.encoders import embedded_e5
from mgl.encoders.embedded_e5 import EMBEDDED_E5_NAME, EMBEDDED_E5_POOLING, EMBEDDED_E5_PREFIX, is_embedded_name
from mgl.errors import ConfigError, MGLError

# Config entries that do not change what a model computes (paths, versions, runtime switches).
_VOLATILE_CONFIG = {
    "_name_or_path",
    "name_or_path",
    "transformers_version",
    "dtype",
    "torch_dtype",
    "architectures",
    "use_cache",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
}
_SAMPLES_PER_TENSOR = 16384


AUTO_PRECISION_ENV = "MGL_AUTO_PRECISION"
"""Environment variable that ``encoder.precision=auto`` honours: ``fp32`` makes ``auto`` pick fp32
on any hardware (as on a CPU without native bfloat16), so one machine can run the suite as the
AVX2-only kind runs it; unset or empty, ``auto`` decides from the hardware."""


def auto_precision_override() -> str | None:
    """``fp32`` where :data:`AUTO_PRECISION_ENV` asks ``auto`` for it, else None; any other value is an error."""
    value = os.environ.get(AUTO_PRECISION_ENV, "").strip().lower()
    if not value:
        return None
    if value != "fp32":
        raise ConfigError(f"{AUTO_PRECISION_ENV} must be 'fp32' or unset, got {value!r}")
    return value


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively (CPU: avx512_bf16 or AMX, and PyTorch's
    kernels built for AVX-512 or above, so ``ATEN_CPU_CAPABILITY=avx2`` reads as the AVX2-only kind
    does; CUDA: the device says)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    if not torch.backends.cpu.get_cpu_capability().upper().startswith(("AVX512", "AMX")):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def config_digest(config) -> str:
    """JSON of a model config without the entries that do not change what it computes."""
    kept = {k: v for k, v in config.to_dict().items() if k not in _VOLATILE_CONFIG and not k.startswith("_")}
    return json.dumps(kept, sort_keys=True, default=str)


def digest_tensors(digest, named_tensors) -> None:
    """Feed each tensor's name, shape, dtype and a strided sample of its values into ``digest``."""
    with torch.no_grad():
        for name, tensor in named_tensors:
            flat = tensor.detach().reshape(-1)
            step = max(1, flat.numel() // _SAMPLES_PER_TENSOR)
            sample = flat[::step][:_SAMPLES_PER_TENSOR].to("cpu", copy=True).contiguous()
            digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
            digest.update(sample.view(torch.uint8).numpy().tobytes())


@dataclass(frozen=True)
class Source:
    """Where a model is loaded from and its defaults."""

    path: str  # what from_pretrained receives
    ref: str  # stable name used in the identity
    pooling: str
    prefix: str


def _sentence_transformers_pooling(directory: Path) -> str | None:
    """``"cls"`` or ``"mean"`` from a sentence-transformers ``1_Pooling/config.json``, if present."""
    try:
        config = json.loads((directory / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if config.get("pooling_mode_cls_token"):
        return "cls"
    if config.get("pooling_mode_mean_tokens"):
        return "mean"
    return None


def locate(model: str) -> Source:
    """Resolve ``model`` (alias, directory or hub name) to where it loads from and its defaults."""

    if is_embedded_name(model):
        directory = embedded_e5.prepare_embedded_e5()  # looked up at call time (tests replace it)
        return Source(str(directory), EMBEDDED_E5_NAME, EMBEDDED_E5_POOLING, EMBEDDED_E5_PREFIX)
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise MGLError("not a Hugging Face model directory (it has no config.json)", source=path)
        path = path.resolve()
        return Source(str(path), str(path), _sentence_transformers_pooling(path) or "cls", "")
    if path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1 or "\\" in model:
        raise MGLError("no such model directory", source=model)
    return Source(model, model, "cls", "")


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' loading chatter (progress bars, load reports) for one load."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def load(source: Source, name: str):
    """``(tokenizer, model)`` loaded with the Auto classes, in float32, without a pooler head."""
    from transformers import AutoModel, AutoTokenizer

    with _quiet_transformers():
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.path)
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError, ...
            raise MGLError(f"cannot load the tokenizer of encoder {name!r}: {_first_line(exc)}") from exc
        try:
            try:  # BERT/RoBERTa/XLM-R carry a pooler head that mgl never uses: skip it.
                model = AutoModel.from_pretrained(source.path, dtype=torch.float32, add_pooling_layer=False)
            except TypeError:
                model = AutoModel.from_pretrained(source.path, dtype=torch.float32)
        except Exception as exc:
            raise MGLError(f"cannot load encoder model {name!r}: {_first_line(exc)}") from exc
    if tokenizer.pad_token_id is None:
        raise MGLError(f"the tokenizer of encoder {name!r} has no padding token")
    return tokenizer, model


def position_limit(tokenizer, config) -> int | None:
    """The longest input (in tokens) the model accepts, if known."""
    limit = tokenizer.model_max_length
    if isinstance(limit, int) and 0 < limit < 1_000_000:
        return limit
    positions = getattr(config, "max_position_embeddings", None)
    return positions if isinstance(positions, int) and positions > 0 else None
