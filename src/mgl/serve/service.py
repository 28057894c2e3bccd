"""A saved model behind HTTP: FastAPI + uvicorn, with concurrent requests micro-batched.

Endpoints (OpenAPI at ``/docs``):

* ``POST /predict`` — ``{"texts": [...], "pairs": [...]?, "explain": false}`` returns one
  ``{"label", "probabilities", "explanation"?}`` per text, in order. Requests are validated by
  pydantic (wrong types, empty or non-string texts get 422), too many texts or too many
  characters 413, a body over ``max_body_bytes`` 413; every error is a JSON message, never a
  traceback.
* ``GET /health`` — ``{"status": "ok"}`` once the model is loaded.
* ``GET /model`` — labels, languages, encoder identity, metrics and configuration.
* ``GET /`` — a small page to type a text and see its label, probabilities and explanation.

Concurrency: requests are queued to one worker thread (:class:`MicroBatcher`), which takes the
first waiting request, gathers more for at most ``max_wait_ms`` or until ``max_batch`` texts,
embeds all their texts in one encoder call, scores each text as its own query graph (so a
text's prediction does not depend on which requests it was batched with, see
:meth:`mgl.model.classifier.Classifier.predict_proba_embeddings`) and answers every request. The model is
loaded once; no request changes process-wide state (torch's thread count is left as it is),
and request texts are not written to the embedding cache unless ``cache_requests`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from mgl.data.languages import is_canonical, language_name
from mgl.errors import MGLError, unencodable_at
from mgl.model.prediction_model import load_for_prediction, set_cpu_threads, usable_cpus
from mgl.serve.guards import (
    BodyLimit,
    HeadAsGet,
    RequestGuard,
    bind_socket,
    default_allowed_hosts,
    json_error_protocol,
    public,
)
from mgl.serve.metrics import ServiceMetrics
from mgl.serve.settings import ServeSettings

log = logging.getLogger("mgl.serve.service")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the service: a message, and the request field it is about."""

    error: str = Field(description="What is wrong, in one line.")
    field: str | None = Field(None, description="The request field at fault, e.g. texts[3], where there is one.")


class APIError(HTTPException):
    """An HTTP error with the :class:`ErrorBody` shape (``field``: the request field at fault)."""

    def __init__(self, status: int, message: str, field: str | None = None, headers: dict | None = None):
        super().__init__(status, message, headers=headers)
        self.field = field


def error_response(status: int, message: str, field: str | None = None, headers: dict | None = None) -> JSONResponse:
    body = {"error": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(status_code=status, content=body, headers=headers)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": why}
    for code, why in (
        (400, "The body cannot be parsed (not UTF-8 JSON text), or the Host header names a host not served here."),
        (401, "Missing or wrong API key (when the server has keys)."),
        (413, "Too many texts, a text too long, or a body too large."),
        (422, "The body is not a valid request (wrong types, empty or non-Unicode text, pairs that do not match)."),
    )
}


class PredictRequest(BaseModel):
    """The body of ``POST /predict``."""

    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr] = Field(min_length=1, description="The texts to classify.")
    pairs: list[StrictStr] | None = Field(None, description="Second texts, one per text (pair models only).")
    explain: StrictBool = Field(
        False,
        description="Also return each text's explanation: its nearest labelled "
        "training examples (with their texts), and for MGL the meta graph's weights.",
    )


def worker_count(settings: ServeSettings, device) -> int:
    """The worker threads to answer with: ``settings.workers``, else one on a GPU and up to two on the
    CPUs this process may use."""
    if settings.workers:
        return settings.workers
    if getattr(device, "type", "cpu") != "cpu":
        return 1
    return min(2, usable_cpus())


@dataclass
class _Job:
    texts: list[str]
    pairs: list[str] | None
    explain: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Worker threads that answer queued requests in batches (see the module docstring).

    With several workers each takes the next waiting requests while the others compute, so
    that on a CPU two batches run side by side, each on its share of the cores (torch
    releases the GIL in its kernels); tokenisation is serialised by the encoder."""

    def __init__(self, clf, settings: ServeSettings, workers: int = 1, on_batch=None):
        self.clf = clf
        self.settings = settings
        self.on_batch = on_batch
        """Called with the number of texts after each batch (the metrics' batch sizes), or None."""
        self.queue: queue.Queue[_Job | None] = queue.Queue()
        self.batches = 0
        self.texts = 0
        self.in_flight = 0
        self._count = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"mgl-batcher-{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, texts: list[str], pairs: list[str] | None, explain: bool) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        job = _Job(texts, pairs, explain, loop, loop.create_future())
        with self._count:
            self.in_flight += 1
        self.queue.put(job)
        return job.future

    def close(self) -> None:
        for _ in self._threads:
            self.queue.put(None)
        for t in self._threads:
            t.join(timeout=30)

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """The first job and those that join it: at most ``max_batch`` texts, at most ``max_wait_ms``
        of waiting, and at most a fair share (requests in flight / workers) of the waiting requests,
        so that the workers' batches, and so their clients' latencies, stay alike."""
        batch, n = [first], len(first.texts)
        with self._count:
            share = -(-self.in_flight // len(self._threads))
        deadline = time.perf_counter() + self.settings.max_wait_ms / 1000
        while n < self.settings.max_batch and len(batch) < share:
            timeout = deadline - time.perf_counter()
            try:
                job = self.queue.get(timeout=timeout) if timeout > 0 else self.queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return batch, True
            if n + len(job.texts) > self.settings.max_batch:
                self.queue.put(job)  # it opens the next batch (after anything queued meanwhile)
                break
            batch.append(job)
            n += len(job.texts)
        return batch, False

    def _work(self) -> None:
        stop = False
        while not stop:
            first = self.queue.get()
            if first is None:
                break
            batch, stop = self._gather(first)
            try:
                answers = self._run(batch)
            except Exception:  # one request's fault must not fail the others: answer each alone
                answers = None
            for i, job in enumerate(batch):
                if answers is not None:
                    job.loop.call_soon_threadsafe(_set_result, job.future, answers[i])
                    continue
                try:
                    answer = self._run([job])[0]
                except Exception as exc:  # answered as a JSON error by the endpoint
                    job.loop.call_soon_threadsafe(_set_exception, job.future, exc)
                else:
                    job.loop.call_soon_threadsafe(_set_result, job.future, answer)
            with self._count:
                self.in_flight -= len(batch)

    def _run(self, batch: list[_Job]) -> list[list[dict[str, Any]]]:
        texts = [t for job in batch for t in job.texts]
        pairs: list[str | None] | None = (
            [p for job in batch for p in (job.pairs if job.pairs is not None else [None] * len(job.texts))]
            if any(job.pairs is not None for job in batch)
            else None
        )
        queries = self.clf.embed(texts, pairs, batch_size=self.settings.encode_batch)
        explain = any(job.explain for job in batch)
        if explain:
            predictions = [p.to_dict() for p in self.clf.explain_embeddings(queries, texts, pairs)]
        else:
            probs = self.clf.predict_proba_embeddings(queries, texts, pairs)
            names = self.clf.label_names
            predictions = [
                {"label": names[int(p.argmax())], "probabilities": {n: round(float(v), 6) for n, v in zip(names, p)}}
                for p in probs
            ]
        with self._count:
            self.batches += 1
            self.texts += len(texts)
        if self.on_batch is not None:
            self.on_batch(len(texts))
        out, start = [], 0
        for job in batch:
            part = predictions[start : start + len(job.texts)]
            if not job.explain:
                part = [{k: v for k, v in p.items() if k != "explanation"} for p in part]
            out.append(part)
            start += len(job.texts)
        return out


def _set_result(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def steady_memory() -> None:
    """Keep a long-running server's memory flat (glibc only; elsewhere nothing happens).

    Activations of every size are allocated and freed per batch; glibc's default raises its
    mmap threshold after such frees, so later large blocks come from the heap, fragment it and
    are never returned (the RSS of a first version grew 50-100% over a 5-minute load test). A
    fixed 1 MiB threshold (which also turns the dynamic adjustment off) and two arenas keep
    large blocks in mmap, returned to the system when freed."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        m_mmap_threshold, m_arena_max = -3, -8
        libc.mallopt(m_mmap_threshold, 1 << 20)
        libc.mallopt(m_arena_max, 2)
    except (OSError, AttributeError):
        pass


def model_info(clf) -> dict[str, Any]:
    """What ``GET /model`` answers: labels, languages, encoder identity, metrics, configuration."""
    report = clf.report or {}
    metrics = {k: report.get(k) for k in ("accuracy", "precision", "recall", "f1", "averaging", "n_test")}
    metrics["validation"] = [
        {
            "stage": s.get("name"),
            "best_round": s.get("best_round"),
            "accuracy": s.get("best_accuracy"),
            "nll": s.get("best_nll"),
        }
        for s in report.get("stages", [])
    ]
    members = report.get("members")
    return {
        "method": clf.method,
        **({"members": list(members)} if members else {}),
        "labels": clf.label_names,
        "sources": clf.sources,
        "target": clf.target,
        "language_names": _language_names([*clf.sources, clf.target]),
        "pairs": any(ex.text_pair is not None for ex in clf.bank.examples),
        "encoder": {
            "model": clf.encoder.spec.model,
            "identity": clf.encoder.identity,
            "train": clf.config.encoder.train,
            "pooling_head": clf.config.encoder.pooling_head,
            "precision": clf.encoder.precision,
            "precision_note": clf.precision_note,
        },
        "metrics": metrics,
        "counts": report.get("counts", {}),
        "config": clf.config.to_dict(),
        "calibration": report.get("calibration"),
        "support_texts": getattr(clf, "support_texts", True),
    }


def create_app(
    model_dir: str | Path,
    settings: ServeSettings | None = None,
    *,
    device: str | None = None,
    precision: str | None = None,
    host: str = "127.0.0.1",
):
    """The FastAPI application serving the model saved in ``model_dir`` (loaded once, here), behind
    the body limit, the ``Host`` check (default: the names of ``host``, the bind address) and the
    API keys of ``settings``."""
    from contextlib import asynccontextmanager

    settings = (settings or ServeSettings()).validate()
    started = time.perf_counter()
    clf = load_for_prediction(model_dir, device=device, precision=precision, cache=settings.cache_requests)
    metrics = ServiceMetrics(model_load_seconds=time.perf_counter() - started)
    info = public(model_info(clf))
    page = resources.files("mgl").joinpath("serve/static/index.html").read_text(encoding="utf-8")

    workers = worker_count(settings, clf.device)
    steady_memory()
    if clf.device.type == "cpu":
        set_cpu_threads(sharing=workers)  # once, at start: the workers share the cores
    clf.warm_up()  # MGL's support sets drawn once, before any request

    @asynccontextmanager
    async def lifespan(app):
        app.state.batcher = MicroBatcher(clf, settings, workers, on_batch=metrics.batch)
        log.info(
            "serving %s (%s -> %s, labels %s; %d worker(s))",
            model_dir,
            "+".join(clf.sources),
            clf.target,
            ", ".join(clf.label_names),
            workers,
        )
        try:
            yield
        finally:
            app.state.batcher.close()
            log.info("stopped after %d batch(es), %d text(s)", app.state.batcher.batches, app.state.batcher.texts)

    from fastapi_offline import FastAPIOffline

    from mgl import __version__

    # the docs (/docs, /redoc) load their scripts from the package, not from a CDN: they work offline
    app = FastAPIOffline(
        title="mgl",
        version=__version__,
        description="Few-shot cross-lingual text classification by Meta Graph Learning. Every error "
        'is `{"error": ..., "field"?: ...}`.',
        lifespan=lifespan,
    )

    metrics.instrument(app)
    # the API-key schemes, in the OpenAPI document: the guard (RequestGuard) checks the keys on every
    # path before FastAPI routes the request; these declare them, so clients and the docs page see them
    secured: list[Any] = (
        [
            Security(APIKeyHeader(name="X-API-Key", auto_error=False, description="One of the server's API keys.")),
            Security(
                HTTPBearer(auto_error=False, description="Authorization: Bearer KEY, one of the server's API keys.")
            ),
        ]
        if settings.api_keys
        else []
    )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()

        def where(e) -> str:
            if e.get("type") == "json_invalid":  # its loc holds a character offset, not a field
                return "body"
            loc = [str(p) for p in e.get("loc", ())[1:]]
            return (loc[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:])) if loc else "body"

        first = where(errors[0]) if errors else "body"
        problems = "; ".join(f"{where(e)}: {e.get('msg')}" for e in errors[:5])
        return error_response(422, f"invalid request: {problems}", first)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException too, and routing's 404/405
    async def http_error(request: Request, exc: StarletteHTTPException):
        return error_response(
            exc.status_code, str(exc.detail), getattr(exc, "field", None), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):  # never a traceback to the client
        log.exception("internal error")
        return error_response(500, f"internal error ({type(exc).__name__})")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return page

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        batcher = request.app.state.batcher
        return {"status": "ok", "batches": batcher.batches, "texts": batcher.texts}

    @app.get("/model", responses={401: ERROR_RESPONSES[401]}, dependencies=secured)
    async def model() -> dict[str, Any]:
        return info

    def check_text_field(value: str, name: str) -> None:
        if not value.strip():
            raise APIError(422, f"{name} is empty", name)
        position = unencodable_at(value)
        if position is not None:
            raise APIError(
                422,
                f"{name} is not valid Unicode: a lone surrogate (U+{ord(value[position - 1]):04X}) "
                f"at character {position}",
                name,
            )

    @app.post("/predict", responses=ERROR_RESPONSES, dependencies=secured)
    async def predict(req: PredictRequest, request: Request) -> dict[str, Any]:
        if len(req.texts) > settings.max_texts:
            raise APIError(413, f"{len(req.texts)} texts in one request; at most {settings.max_texts}", "texts")
        if info["pairs"] and req.pairs is None:
            raise APIError(422, "this model classifies text pairs: give 'pairs', one per text", "pairs")
        if not info["pairs"] and req.pairs is not None:
            raise APIError(422, "this model classifies single texts: leave out 'pairs'", "pairs")
        if req.pairs is not None and len(req.pairs) != len(req.texts):
            raise APIError(422, f"{len(req.texts)} texts but {len(req.pairs)} pairs", "pairs")
        for i, text in enumerate(req.texts):
            check_text_field(text, f"texts[{i}]")
            if req.pairs is not None:
                check_text_field(req.pairs[i], f"pairs[{i}]")
            if len(text) + (len(req.pairs[i]) if req.pairs else 0) > settings.max_chars:
                raise APIError(413, f"texts[{i}] is longer than {settings.max_chars} characters", f"texts[{i}]")
        try:
            predictions = await request.app.state.batcher.submit(list(req.texts), req.pairs, req.explain)
        except MGLError as exc:
            raise APIError(422, str(exc)) from None
        return {"predictions": predictions}

    app.state.settings = {k: v for k, v in asdict(settings).items() if k != "api_keys"}
    allowed = settings.allowed_hosts if settings.allowed_hosts is not None else default_allowed_hosts(host)
    if "*" in allowed:
        log.warning(
            "answering requests for any Host name (bound to %s): give --allowed-hosts to guard against DNS rebinding",
            host,
        )
    # the Host and key checks first, before any body is read
    limited = BodyLimit(app, settings.max_body_bytes) if settings.max_body_bytes else app
    # HEAD wherever GET is answered, behind the same guards
    return HeadAsGet(RequestGuard(limited, allowed_hosts=tuple(allowed), api_keys=tuple(settings.api_keys)))


def _language_names(tags) -> dict[str, str]:
    """Each language tag's English name (``{"yo": "Yoruba"}``), for ``GET /model`` and the page."""

    return {tag: language_name(tag) for tag in tags if is_canonical(tag)}


def serve(
    model_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: ServeSettings | None = None,
    device: str | None = None,
    precision: str | None = None,
    log_level: str = "info",
) -> None:
    """Run the service with uvicorn until SIGINT/SIGTERM (graceful: in-flight requests finish)."""
    import uvicorn

    sock = bind_socket(host, port)  # before loading the model: a port in use is found at once
    app = create_app(model_dir, settings, device=device, precision=precision, host=host)
    config = uvicorn.Config(
        app, log_level=log_level, workers=1, timeout_graceful_shutdown=30, http=json_error_protocol()
    )
    uvicorn.Server(config).run(sockets=[sock])
