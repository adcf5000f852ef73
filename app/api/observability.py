"""Prometheus metrics, structured JSON logs and per-request timeouts.

One pure ASGI middleware times every request, so the access log, the
latency histogram and the timeout share one clock and one request id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.engine import Service

log = logging.getLogger("paradup.access")

REQUESTS = Counter("paradup_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "paradup_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INGESTED = Counter("paradup_ingested_documents_total", "Documents ingested", ["status"])
CHECKED = Counter("paradup_checked_paragraphs_total", "Paragraphs checked", ["status"])
WORK_IN_FLIGHT = Gauge(
    "paradup_work_in_flight", "Checks and ingests running in worker threads", multiprocess_mode="livesum"
)
WORK_STOPPED = Counter(
    "paradup_work_stopped_total", "Checks and ingests stopped past their deadline, by stage", ["stage"]
)


class IndexSize(Collector):
    """Index size read from the store at scrape time (the same for every
    worker, so it is not a per-process gauge)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        stats = self.service.stats()
        yield GaugeMetricFamily("paradup_index_documents", "Documents in the index", value=stats.documents)
        yield GaugeMetricFamily("paradup_index_paragraphs", "Paragraphs in the index", value=stats.paragraphs)


def render_metrics(service: Service) -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several workers: add up what every process wrote to the shared dir.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    index = CollectorRegistry()
    index.register(IndexSize(service))
    return generate_latest(registry) + generate_latest(index), CONTENT_TYPE_LATEST


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": os.getpid(),  # at each call: forked workers import nothing of their own
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("paradup")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class Observe:
    """Request id, timing, metrics, access log and timeout for each request."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"")
        request_id = incoming.decode("latin-1")[:128] if incoming else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the log and metrics say if the app fails before answering
        responded = False  # a response start went out: a timeout can only cut its body
        started = time.perf_counter()

        async def send_wrapped(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers["x-served-by"] = f"pid-{os.getpid()}"
            await send(message)

        try:
            async with asyncio.timeout(self.timeout):
                await self.app(scope, receive, send_wrapped)
        except TimeoutError:
            if not responded:
                status = 504
                body = json.dumps({"detail": f"request took longer than {self.timeout:g} s"}).encode()
                await send_wrapped(
                    {
                        "type": "http.response.start",
                        "status": 504,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope.get("method", "")
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": method,
                        "path": scope.get("path", ""),
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    }
                },
            )
