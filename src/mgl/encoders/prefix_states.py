"""Token-level hidden states below an encoder's top k layers, cached on disk for top-k training.

Training only the top ``k`` transformer layers of an encoder (``encoder.train=top-k``) leaves
the embeddings and the lower ``L - k`` layers frozen, so the hidden states that enter layer
``L - k`` never change. They are computed once per text, stored here, and every training
episode runs only the ``k`` trainable layers (and the pooling) on the states of its nodes: on a
CPU this is ``L / k`` times less encoder work per episode than a full forward pass, and the
lower layers need no backward pass at all.

Layout: one folder per configuration under ``<root>`` (default ``MGL_HOME/prefix-states``),
named by a hash of the encoder's :meth:`~mgl.encoders.text_encoder.TextEncoder.prefix_identity`
(the model, a fingerprint of the frozen weights only, the tokenizer, prefix, maximum length and
the number of frozen layers). In it:

* ``shard-NNNNN.f16``: raw float16 rows of ``dim`` values, one row per real (non-padding)
  token, inputs one after another. Append-only; a new shard starts past 1 GiB.
* ``index.sqlite3``: ``key -> (shard, first row, number of tokens)``, the key being the
  embedding cache's :func:`~mgl.encoders.cache.cache_key` of the input. The attention mask is
  implied: an input's stored tokens are exactly its real tokens, so a batch is padded on read
  and its mask is 1 on the first ``length`` positions.
* ``meta.json``: the identity, ``dim`` and ``frozen_layers``, for humans and checks.

Reads are memory-mapped (``numpy.memmap``): an episode touches only its nodes' rows. Writes
append the rows of a batch, ``fsync`` them, then record the batch in the index in one
transaction, under an exclusive file lock (several processes may share the folder). A crash
leaves at most unindexed bytes at a shard's end, which are never read.

Disk cost: ``2 * dim`` bytes per token, so ``2 * dim * mean tokens`` per text; for
multilingual-e5-small (``dim`` 384) at 128 tokens at most, about 98 KB per text, 98 MB per
1,000 texts (reviews that fill the 128 tokens; shorter texts take less).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mgl.encoders.batching import plan_bucket_batches
from mgl.encoders.cache import cache_key
from mgl.encoders.tokens import check_inputs, pad_features, token_features
from mgl.errors import MGLError
from mgl.paths import mgl_home

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from mgl.encoders.text_encoder import TextEncoder

__all__ = ["PrefixLocation", "PrefixStateStore", "compute_prefix_states", "pad_states"]

SHARD_BYTES = 1 << 30
"""A new shard file is started once the current one holds this many bytes."""


@dataclass(frozen=True)
class PrefixLocation:
    """Where one input's token states are: shard number, first row, number of tokens."""

    shard: int
    start: int
    length: int


class PrefixStateStore:
    """The cached prefix states of one (encoder, frozen layers, maximum length) configuration.

    Args:
        identity: the encoder's ``prefix_identity(frozen_layers)``.
        dim: hidden size.
        root: parent folder (default ``MGL_HOME/prefix-states``).
    """

    def __init__(self, identity: str, dim: int, root: str | Path | None = None):
        base = Path(root) if root is not None else mgl_home() / "prefix-states"
        self.identity = identity
        self.dim = int(dim)
        self.folder = base / hashlib.sha256(identity.encode("utf-8")).hexdigest()[:24]
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "meta.json"
        if meta.exists():
            saved = json.loads(meta.read_text(encoding="utf-8"))
            if saved.get("identity") != identity or int(saved.get("dim", -1)) != self.dim:
                raise MGLError("prefix-state folder belongs to another configuration", source=self.folder)
        else:
            tmp = meta.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps({"identity": identity, "dim": self.dim}, indent=2), encoding="utf-8")
            os.replace(tmp, meta)
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._maps: dict[int, np.memmap] = {}

    @classmethod
    def for_encoder(cls, encoder: TextEncoder, frozen_layers: int, root: str | Path | None = None) -> PrefixStateStore:
        return cls(encoder.prefix_identity(frozen_layers), encoder.dim, root)

    # ------------------------------------------------------------------ index

    def _index(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                self.folder / "index.sqlite3", timeout=60.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS states (key TEXT PRIMARY KEY, shard INTEGER NOT NULL,"
                " start INTEGER NOT NULL, length INTEGER NOT NULL)"
            )
            self._conn, self._pid, self._maps = conn, os.getpid(), {}
        return self._conn

    def lookup(self, keys: Sequence[str]) -> dict[str, PrefixLocation]:
        """The stored locations of those ``keys`` that are in the store."""
        conn, found = self._index(), {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for key, shard, first, length in conn.execute(
                f"SELECT key, shard, start, length FROM states WHERE key IN ({marks})", chunk
            ):
                found[key] = PrefixLocation(int(shard), int(first), int(length))
        return found

    def __len__(self) -> int:
        return int(self._index().execute("SELECT COUNT(*) FROM states").fetchone()[0])

    def size_bytes(self) -> int:
        """Bytes on disk (shards, index and metadata)."""
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())

    # ------------------------------------------------------------------ writing

    def _shard_path(self, shard: int) -> Path:
        return self.folder / f"shard-{shard:05d}.f16"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.folder / "write.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Store ``(key, states [length, dim])`` items (converted to float16), skipping stored keys."""
        if not items:
            return
        for key, states in items:
            if states.ndim != 2 or states.shape[1] != self.dim or states.shape[0] < 1:
                raise MGLError(
                    f"prefix states of shape {tuple(states.shape)} for key {key[:12]}: expected [length, {self.dim}]"
                )
        with self._locked():
            present = self.lookup([key for key, _ in items])
            todo = [(k, s) for k, s in items if k not in present]
            if not todo:
                return
            shard = max([int(p.stem.split("-")[1]) for p in self.folder.glob("shard-*.f16")] or [0])
            path = self._shard_path(shard)
            size = path.stat().st_size if path.exists() else 0
            if size >= SHARD_BYTES:
                shard, size = shard + 1, 0
                path = self._shard_path(shard)
            row = size // (2 * self.dim)
            if row * 2 * self.dim != size:  # a torn write from a crash: skip to the next whole row
                row += 1
            rows, blob = [], bytearray()
            blob.extend(b"\0" * (row * 2 * self.dim - size))
            for key, states in todo:
                data = np.ascontiguousarray(states, dtype="<f2")
                rows.append((key, shard, row, int(data.shape[0])))
                blob.extend(data.tobytes())
                row += data.shape[0]
            with open(path, "ab") as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())
            conn = self._index()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR IGNORE INTO states (key, shard, start, length) VALUES (?, ?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ reading

    def read(self, location: PrefixLocation) -> np.ndarray:
        """The float16 states ``[length, dim]`` at ``location`` (a read-only memory-mapped view)."""
        end = location.start + location.length
        mapped = self._maps.get(location.shard)
        if mapped is None or mapped.shape[0] < end:
            path = self._shard_path(location.shard)
            rows = path.stat().st_size // (2 * self.dim) if path.exists() else 0
            if rows < end:
                raise MGLError(
                    f"prefix-state shard is shorter than its index says ({rows} < {end} rows): "
                    f"delete the folder to rebuild it",
                    source=path,
                )
            mapped = np.memmap(path, dtype="<f2", mode="r", shape=(rows, self.dim))
            self._maps[location.shard] = mapped
        return mapped[location.start : end]


@contextlib.contextmanager
def _frozen_pass(encoder: TextEncoder, total: int, desc: str, progress: bool):
    """Eval mode and ``inference_mode`` for a pass over ``total`` inputs, with a progress bar
    (yielded); the encoder's previous train/eval mode is restored."""
    import torch
    from tqdm.auto import tqdm

    was_training = encoder.training
    encoder.eval()
    bar = tqdm(total=total, desc=desc, unit="text", file=sys.stderr, disable=not progress)
    try:
        with torch.inference_mode():
            yield bar
    finally:
        bar.close()
        encoder.train(was_training)


def pad_states(states: Sequence[np.ndarray], dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stored token states of several inputs as one right-padded batch: ``(hidden [n, T, dim]
    float32 tensor, attention mask [n, T] int64 tensor)``, T the longest input."""
    import torch

    longest = max(s.shape[0] for s in states)
    hidden = np.zeros((len(states), longest, dim), dtype=np.float32)
    mask = np.zeros((len(states), longest), dtype=np.int64)
    for row, s in enumerate(states):
        hidden[row, : s.shape[0]] = s
        mask[row, : s.shape[0]] = 1
    return torch.from_numpy(hidden), torch.from_numpy(mask)


def compute_prefix_states(
    encoder: TextEncoder,
    texts: Sequence[str],
    pairs: Sequence[str | None] | None,
    frozen_layers: int,
    *,
    store: PrefixStateStore | None = None,
    batch_size: int = 32,
    progress: bool = True,
    lower: tuple[PrefixStateStore, list[PrefixLocation], int] | None = None,
) -> tuple[PrefixStateStore, list[PrefixLocation]]:
    """Make sure the states entering layer ``frozen_layers`` of every input are in the store.

    Inputs already stored are not recomputed; the others are tokenised once, sorted by length,
    run through the frozen part of the encoder (under ``inference_mode``, in eval mode) and
    appended batch by batch (an interrupted run keeps what it finished). Returns the store and
    one location per input, in input order.

    ``lower``: ``(store, locations, layer)`` of the same inputs' states cached at a lower layer
    (``layer < frozen_layers``, e.g. for k = 2 when k = 1 is wanted): the missing states are then
    computed from those by running only layers ``layer .. frozen_layers - 1``, instead of the
    whole prefix from the tokens. (From float16 states: equal to the direct computation to
    float16 rounding.)
    """

    store = store if store is not None else PrefixStateStore.for_encoder(encoder, frozen_layers)
    texts, pairs = check_inputs(texts, pairs)
    spec = encoder.spec
    keys = [cache_key(store.identity, spec.pooling, spec.prefix, spec.max_length, t, p) for t, p in zip(texts, pairs)]
    found = store.lookup(list(dict.fromkeys(keys)))
    slots: dict[str, int] = {}
    todo = [slots.setdefault(k, i) for i, k in enumerate(keys) if k not in found and k not in slots]
    if todo and lower is not None:
        if len(lower[1]) != len(keys):
            raise MGLError(f"{len(lower[1])} lower-layer locations for {len(keys)} inputs")
        _derive(
            encoder,
            store,
            [keys[i] for i in todo],
            lower,
            todo,
            frozen_layers,
            batch_size=batch_size,
            progress=progress,
        )
        todo = []
    if todo:
        features = token_features(encoder.tokenizer, encoder.spec, [texts[i] for i in todo], [pairs[i] for i in todo])
        lengths = [len(f["input_ids"]) for f in features]
        with _frozen_pass(encoder, len(todo), f"prefix states (frozen layers 0-{frozen_layers - 1})", progress) as bar:
            # each input at its own bucket's length, as TextEncoder.embed: bf16 final states then
            # do not depend on batch mates (mgl.encoders.batching)
            for length, batch in plan_bucket_batches(lengths, encoder.spec.max_length, batch_size):
                padded = pad_features(encoder.tokenizer, [features[j] for j in batch], length)
                hidden = encoder.hidden_states_before(padded, frozen_layers).float().cpu().numpy()
                mask = padded["attention_mask"].numpy().astype(bool)
                store.append([(keys[todo[j]], hidden[row][mask[row]]) for row, j in enumerate(batch)])
                bar.update(len(batch))
    found = store.lookup(list(dict.fromkeys(keys)))
    missing = [i for i, k in enumerate(keys) if k not in found]
    if missing:  # pragma: no cover - only if the store is modified concurrently
        raise MGLError(f"prefix states of {len(missing)} input(s) missing after computing them", source=store.folder)
    return store, [found[k] for k in keys]


def _derive(
    encoder: TextEncoder,
    store: PrefixStateStore,
    keys: list[str],
    lower: tuple[PrefixStateStore, list[PrefixLocation], int],
    rows: list[int],
    frozen_layers: int,
    *,
    batch_size: int,
    progress: bool,
) -> None:
    """States entering ``frozen_layers`` from those cached at a lower layer (see compute_prefix_states)."""

    lower_store, lower_locations, layer = lower
    if not 0 <= layer < frozen_layers:
        raise MGLError(f"states cached at layer {layer} cannot give the states of layer {frozen_layers}")
    if lower_store.dim != store.dim:
        raise MGLError("the lower-layer states have another hidden size", source=lower_store.folder)
    order = sorted(range(len(rows)), key=lambda j: -lower_locations[rows[j]].length)
    with _frozen_pass(
        encoder, len(rows), f"prefix states (layers {layer}-{frozen_layers - 1} from cache)", progress
    ) as bar:
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            states = [lower_store.read(lower_locations[rows[j]]) for j in part]
            out = (
                encoder.run_layers(*pad_states(states, store.dim), layer, frozen_layers, autocast=False)
                .float()
                .cpu()
                .numpy()
            )  # as the direct (float32) computation
            store.append([(keys[j], out[r, : states[r].shape[0]]) for r, j in enumerate(part)])
            bar.update(len(part))
