"""The settings of ``mgl serve``: limits, batching and access (each a command-line option)."""

from __future__ import annotations

from dataclasses import dataclass

from mgl.data.records import MAX_TEXT_CHARS
from mgl.errors import ConfigError


@dataclass
class ServeSettings:
    """Limits and batching of ``mgl serve`` (each a command-line option)."""

    max_texts: int = 64
    """Most texts in one request."""
    max_chars: int = 20_000
    """Most characters in one text (with its pair): an operator's tighter bound per request, at most
    the reader's limit on every path, :data:`mgl.data.records.MAX_TEXT_CHARS` (100,000)."""
    max_body_bytes: int = 2_000_000
    """Largest request body accepted."""
    max_batch: int = 64
    """Most texts gathered into one batch (requests are not split: a larger one runs alone)."""
    max_wait_ms: float = 2.0
    """How long a worker waits for more requests after the first before it runs the batch."""
    workers: int = 0
    """Worker threads answering batches side by side (0: two on a CPU with two or more cores, else
    one; one on a GPU). Torch's intra-op threads are set once at start to cores / workers: on 2
    cores two single-threaded workers answered 8 concurrent single-text clients ~25% faster than
    one worker on both cores (small batches parallelise poorly inside one forward pass)."""
    encode_batch: int = 16
    """Texts per encoder forward pass within a batch (length-sorted, at most 10% padding)."""
    cache_requests: bool = False
    """Keep request texts' embeddings in the on-disk cache ($MGL_HOME)."""
    api_keys: tuple[str, ...] = ()
    """Keys a client must send (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``) on every path but
    ``/health``; empty: no authentication. Compared in constant time."""
    allowed_hosts: tuple[str, ...] | None = None
    """Host names the ``Host`` header may carry (a guard against DNS rebinding); None: the host
    names of the bind address (see :func:`mgl.serve.guards.default_allowed_hosts`); ``("*",)``: any."""

    def validate(self) -> ServeSettings:
        if self.workers < 0:
            raise ConfigError(f"--workers must be >= 0, got {self.workers}")
        for name in ("max_texts", "max_chars", "max_body_bytes", "max_batch", "encode_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.max_chars > MAX_TEXT_CHARS:
            raise ConfigError(
                f"--max-chars must be at most {MAX_TEXT_CHARS:,}, the longest text any mgl command reads; "
                f"got {self.max_chars:,}"
            )
        if self.max_wait_ms < 0:
            raise ConfigError(f"--max-wait-ms must be >= 0, got {self.max_wait_ms}")
        return self
