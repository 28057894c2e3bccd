"""``GET /metrics``: the service's Prometheus metrics, for the operators who run it.

Request counts and latencies by route, method and status come from
``prometheus-fastapi-instrumentator`` (the maintained instrumentator of FastAPI apps:
``http_requests_total``, ``http_request_duration_seconds``, request and response sizes); mgl adds
what only it knows: the texts per micro-batch (``mgl_batch_texts``), the texts classified
(``mgl_texts_total``) and how long the model took to load (``mgl_model_load_seconds``). Each app
has a registry of its own, so two apps in one process (tests, a reload) never share a counter.
``/metrics`` sits behind the same guards as every path: with API keys, a scraper sends one
(``authorization: Bearer KEY`` in the scrape config).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServiceMetrics"]


class ServiceMetrics:
    """The metrics of one app: :meth:`instrument` adds the request metrics and ``/metrics``;
    :meth:`batch` is called by the micro-batcher after each batch."""

    def __init__(self, model_load_seconds: float) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.batch_texts = Histogram(
            "mgl_batch_texts",
            "Texts per micro-batch the model answered",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.texts = Counter("mgl_texts", "Texts classified", registry=self.registry)
        self.load = Gauge("mgl_model_load_seconds", "Seconds the model took to load at start", registry=self.registry)
        self.load.set(model_load_seconds)

    def instrument(self, app: Any) -> None:
        """Request metrics on every route, and ``GET /metrics`` (left out of the OpenAPI schema)."""
        from prometheus_fastapi_instrumentator import Instrumentator

        Instrumentator(registry=self.registry, excluded_handlers=["/metrics"]).instrument(app).expose(
            app, endpoint="/metrics", include_in_schema=False
        )

    def batch(self, n_texts: int) -> None:
        self.batch_texts.observe(n_texts)
        self.texts.inc(n_texts)
