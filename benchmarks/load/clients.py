"""One-connection ``/check`` latency as two HTTP clients see it.

The figure a CMS hook waits for is the service's answer time plus its own
client's. On this machine the client shares the service's two cores, and
httpx spends ~0.7-1 ms of Python a request of its own: its one-connection
p50 at 10M paragraphs was 3.0-3.7 ms where the standard library's
``http.client`` measured 2.0-2.9 ms on the same server in the same minute.
So the one-connection figures are taken with ``http.client`` (a keep-alive
connection, the request written and the answer read whole, as a lean
client in any language does) and, for comparison with earlier reports,
with httpx too. Each client's floor, ``GET /health`` on the same
connection, says how much of its figure is the client and the round trip.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from benchmarks.load.tools import summary_ms

CLIENTS = ("stdlib", "httpx")
_HEADERS = {"content-type": "application/json"}


def sequential(
    url: str, bodies: Sequence[bytes], count: int, client: str = "stdlib"
) -> tuple[list[float], int]:
    """Client-side milliseconds of ``count`` back-to-back /check requests on
    one connection, cycling through the bodies; and the non-200 count."""
    if client == "httpx":
        return _httpx(url, "POST", "/check", bodies, count)
    return _stdlib(url, "POST", "/check", bodies, count)


def floor(url: str, count: int, client: str = "stdlib") -> list[float]:
    """Milliseconds of ``GET /health`` on one connection: the client's own
    cost and the round trip, with next to no work in the service."""
    run = _httpx if client == "httpx" else _stdlib
    return run(url, "GET", "/health", [b""], count)[0]


def one_connection(url: str, bodies: Sequence[bytes], count: int, blocks: int = 4) -> dict[str, Any]:
    """Both clients, in alternating blocks (the machine's speed wanders), and
    each one's floor. ``stdlib`` is the figure the targets judge."""
    latencies: dict[str, list[float]] = {c: [] for c in CLIENTS}
    errors = dict.fromkeys(CLIENTS, 0)
    size = max(1, count // blocks)
    for block in range(blocks):
        for client in CLIENTS if block % 2 == 0 else CLIENTS[::-1]:
            offset = block * size % len(bodies)
            found, failed = sequential(url, [*bodies[offset:], *bodies[:offset]], size, client)
            latencies[client] += found
            errors[client] += failed
    floors = {c: summary_ms(floor(url, min(count, 200), c)) for c in CLIENTS}
    return {
        c: {
            **summary_ms(latencies[c]),
            "errors": errors[c],
            "client": c,
            "health_p50_ms": floors[c]["p50_ms"],
        }
        for c in CLIENTS
    }


def _stdlib(url: str, method: str, path: str, bodies: Sequence[bytes], count: int) -> tuple[list[float], int]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
    latencies: list[float] = []
    errors = 0
    try:
        for i in range(count):
            body = bodies[i % len(bodies)]
            start = time.perf_counter()
            connection.request(method, path, body=body or None, headers=_HEADERS if body else {})
            response = connection.getresponse()
            response.read()
            latencies.append((time.perf_counter() - start) * 1000)
            errors += response.status != 200
    finally:
        connection.close()
    return latencies, errors


def _httpx(url: str, method: str, path: str, bodies: Sequence[bytes], count: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    with httpx.Client(timeout=60) as http:
        for i in range(count):
            body = bodies[i % len(bodies)]
            start = time.perf_counter()
            r = http.request(method, url + path, content=body or None, headers=_HEADERS if body else None)
            latencies.append((time.perf_counter() - start) * 1000)
            errors += r.status_code != 200
    return latencies, errors
