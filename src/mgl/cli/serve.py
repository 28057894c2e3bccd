"""``mgl serve``: a saved model behind HTTP (FastAPI + uvicorn); see :mod:`mgl.serve.service`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mgl.serve.guards import read_api_keys
from mgl.serve.settings import ServeSettings

defaults = ServeSettings()


def serve(
    model: Annotated[Path, typer.Option(help="A model directory saved by 'mgl train --save'.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N; default: CUDA when present.")] = None,
    precision: Annotated[
        str | None, typer.Option(help="Embed requests in fp32, bf16 or auto (default: as the model was trained).")
    ] = None,
    max_texts: Annotated[int, typer.Option(help="Most texts in one request.")] = defaults.max_texts,
    max_chars: Annotated[int, typer.Option(help="Most characters in one text.")] = defaults.max_chars,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body.")] = defaults.max_body_bytes,
    max_batch: Annotated[int, typer.Option(help="Most texts embedded in one encoder call.")] = defaults.max_batch,
    max_wait_ms: Annotated[
        float, typer.Option(help="How long to wait for more requests to batch with the first.")
    ] = defaults.max_wait_ms,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker threads computing batches side by side (0: two on a CPU with 2+ cores, one on a GPU)."
        ),
    ] = defaults.workers,
    encode_batch: Annotated[
        int, typer.Option(help="Texts per encoder forward pass within a batch.")
    ] = defaults.encode_batch,
    cache_requests: Annotated[
        bool, typer.Option("--cache-requests", help="Keep request texts' embeddings in the on-disk cache.")
    ] = False,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            help="Require an API key (Authorization: Bearer KEY or X-API-Key) on every path but /health, /, the docs: one key per line. Keys also come from $MGL_API_KEYS (comma-separated)."
        ),
    ] = None,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated host names the Host header may carry (default: the bind address's names; * for any)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve a saved model: POST /predict, GET /health, GET /model, a page at /, OpenAPI at /docs."""
    from mgl.serve.service import serve as run_service

    hosts = tuple(h.strip() for h in allowed_hosts.split(",") if h.strip()) if allowed_hosts else None
    settings = ServeSettings(
        max_texts=max_texts,
        max_chars=max_chars,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        workers=workers,
        encode_batch=encode_batch,
        cache_requests=cache_requests,
        api_keys=read_api_keys(api_key_file),
        allowed_hosts=hosts,
    )
    run_service(
        model,
        host=host,
        port=port,
        settings=settings.validate(),
        device=device,
        precision=precision,
        log_level=log_level,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
