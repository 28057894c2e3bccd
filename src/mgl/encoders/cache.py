"""An on-disk cache of text embeddings: one SQLite file, one checksummed float32 vector per entry.

A frozen encoder maps the same text to the same vector every time, and embedding is by far the
slowest step of a run on a CPU, so vectors are kept across runs. An entry is keyed by a hash of
everything that determines the vector: the encoder's identity (model and a fingerprint of its
weights), the pooling, the prefix, the maximum length, the text and the optional second text
(:meth:`EmbeddingCache.key`).

Storage is SQLite (stdlib ``sqlite3``, WAL journal): transactional, so a crash never leaves a
half-written entry behind, and safe for concurrent readers and writers across processes. Each
row holds the vector as little-endian float32 bytes, its dimension and a BLAKE2b checksum over
key, dimension and bytes. :meth:`EmbeddingCache.get_many` verifies every row it reads; a row of
the wrong length, with a checksum mismatch or otherwise unreadable is deleted, counted in
``corrupt`` and reported as a miss, so the caller recomputes it: a damaged vector is never
returned. A database file that SQLite cannot read at all (not a database, malformed pages,
unknown schema) is deleted and rebuilt empty with a :class:`CacheWarning`, not a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from mgl.errors import MGLError
from mgl.paths import mgl_home

__all__ = ["CacheWarning", "EmbeddingCache", "cache_key"]

SCHEMA_VERSION = "1"
KEY_VERSION = 2
"""Part of every key: bumped if the key derivation or the computation of a vector changes, so old
entries are simply not found. 2: each input is padded to its own length bucket
(:mod:`mgl.encoders.batching`), which changes bf16 vectors by up to ~4e-3."""

DB_NAME = "embeddings.sqlite3"
_CHUNK = 500  # keys per ``IN (...)`` query: well under SQLite's limit on bound variables
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


class CacheWarning(UserWarning):
    """The embedding cache found damage (a corrupt database, unreadable entries) and repaired it."""


def cache_key(
    identity: str, pooling: str | None, prefix: str | None, max_length: int, text: str, text_pair: str | None = None
) -> str:
    """The hex SHA-256 key of one cache entry.

    The fields are serialised as one JSON array (ASCII-escaped, so any string, including lone
    surrogates, is encoded unambiguously; ``None`` and ``""`` differ) and hashed.
    """
    payload = json.dumps([KEY_VERSION, identity, pooling, prefix, int(max_length), text, text_pair])
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def _checksum(key: bytes, dim: int, blob: bytes) -> bytes:
    digest = hashlib.blake2b(key, digest_size=16)
    digest.update(dim.to_bytes(4, "little"))
    digest.update(blob)
    return digest.digest()


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True for errors that mean the file itself is damaged or not a database of ours."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and (code & 0xFF) in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    message = str(exc).lower()
    return any(s in message for s in ("malformed", "not a database", "no such table", "no such column"))


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EmbeddingCache:
    """Checksummed float32 text embeddings in ``<root>/embeddings.sqlite3``.

    ``root`` defaults to ``mgl_home()/"embeddings"``. Counters: ``hits`` and ``misses`` (per
    distinct key looked up by :meth:`get_many`), ``corrupt`` (entries found damaged, dropped and
    reported as misses), ``writes`` (entries stored by :meth:`put_many`).
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else mgl_home() / "embeddings"
        self.path = self.root / DB_NAME
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self.writes = 0
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        with self._lock:
            self._connection()

    # ------------------------------------------------------------------ keys

    key = staticmethod(cache_key)

    # ------------------------------------------------------------------ connection

    def _connect(self) -> sqlite3.Connection:
        self.root.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors ("
                " key BLOB PRIMARY KEY, dim INTEGER NOT NULL, checksum BLOB NOT NULL, vec BLOB NOT NULL)"
            )
            conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
            (schema,) = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            if schema != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"not a database of ours: unknown schema {schema!r}")
            conn.execute("SELECT key, dim, checksum, vec FROM vectors LIMIT 0")
        except BaseException:
            conn.close()
            raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        """The open connection (reopened after a fork: a connection must not cross processes)."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self._conn = None
        self._pid = os.getpid()
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise MGLError(f"cannot open the embedding cache: {exc}", source=self.path) from exc
            self._rebuild(exc)
        except sqlite3.Error as exc:
            raise MGLError(f"cannot open the embedding cache: {exc}", source=self.path) from exc
        assert self._conn is not None  # set by _connect or _rebuild
        return self._conn

    def _rebuild(self, exc: BaseException) -> None:
        """Delete the unreadable database file and start an empty one, with a warning."""
        warnings.warn(
            f"{self.path}: the embedding cache is unreadable ({exc}); deleting it and starting an empty cache",
            CacheWarning,
            stacklevel=4,
        )
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")
        self._conn = self._connect()

    def _run(self, operation):
        """Run ``operation(conn)``; if the file turns out damaged, rebuild it and retry once."""
        with self._lock:
            conn = self._connection()
            try:
                return operation(conn)
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if not _is_corruption(exc):
                    raise MGLError(f"embedding cache error: {exc}", source=self.path) from exc
                self._rebuild(exc)
                return operation(self._conn)

    # ------------------------------------------------------------------ reading and writing

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those ``keys`` that are present and intact (float32, 1-D).

        Missing keys are absent from the result. Damaged entries are deleted, counted in
        ``corrupt`` (with a :class:`CacheWarning`) and, like missing ones, in ``misses``.
        """
        wanted = list(dict.fromkeys(keys))
        raw = [bytes.fromhex(k) for k in wanted]

        def lookup(conn: sqlite3.Connection) -> tuple[dict[str, np.ndarray], list[bytes]]:
            found: dict[str, np.ndarray] = {}
            bad: list[bytes] = []
            for chunk in _chunks(raw, _CHUNK):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, dim, checksum, vec FROM vectors WHERE key IN ({marks})", chunk)
                for key, dim, checksum, blob in rows:
                    vector = self._decode(key, dim, checksum, blob)
                    if vector is None:
                        bad.append(key)
                    else:
                        found[key.hex()] = vector
            if bad:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("DELETE FROM vectors WHERE key = ?", [(k,) for k in bad])
                conn.execute("COMMIT")
            return found, bad

        found, bad = self._run(lookup)
        if bad:
            warnings.warn(
                f"{self.path}: {len(bad)} damaged embedding(s) dropped from the cache; they will be recomputed",
                CacheWarning,
                stacklevel=2,
            )
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        self.corrupt += len(bad)
        return found

    @staticmethod
    def _decode(key: object, dim: object, checksum: object, blob: object) -> np.ndarray | None:
        """The vector of one row, or None if anything about the row is wrong."""
        if not (isinstance(key, bytes) and isinstance(blob, bytes) and isinstance(checksum, bytes)):
            return None
        if not isinstance(dim, int) or dim <= 0 or len(blob) != 4 * dim:
            return None
        if _checksum(key, dim, blob) != checksum:
            return None
        return np.frombuffer(blob, dtype="<f4").astype(np.float32)

    def put_many(self, items: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]]) -> int:
        """Store ``(key, vector)`` pairs (replacing existing entries) in one transaction.

        Vectors are stored as 1-D little-endian float32. Returns the number of entries written.
        """
        pairs = items.items() if isinstance(items, Mapping) else items
        rows = []
        for key, vector in pairs:
            array = np.ascontiguousarray(np.asarray(vector, dtype="<f4")).reshape(-1)
            if array.size == 0:
                raise ValueError(f"cannot cache an empty vector (key {key})")
            raw_key = bytes.fromhex(key)
            blob = array.tobytes()
            rows.append((raw_key, int(array.size), _checksum(raw_key, int(array.size), blob), blob))
        if not rows:
            return 0

        def store(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR REPLACE INTO vectors (key, dim, checksum, vec) VALUES (?, ?, ?, ?)", rows)
            conn.execute("COMMIT")

        self._run(store)
        self.writes += len(rows)
        return len(rows)

    # ------------------------------------------------------------------ housekeeping

    def __len__(self) -> int:
        return int(self._run(lambda conn: conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]))

    def stats(self) -> dict[str, object]:
        """Counters of this object and the size of the cache on disk."""
        size = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                size += os.stat(f"{self.path}{suffix}").st_size
        return {
            "path": str(self.path),
            "entries": len(self),
            "bytes": size,
            "hits": self.hits,
            "misses": self.misses,
            "corrupt": self.corrupt,
            "writes": self.writes,
        }

    def reset_counters(self) -> None:
        self.hits = self.misses = self.corrupt = self.writes = 0

    def clear(self) -> None:
        """Delete every entry, shrink the file, and reset the counters."""

        def wipe(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM vectors")
            conn.execute("VACUUM")

        self._run(wipe)
        self.reset_counters()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_conn"] = None
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r})"
