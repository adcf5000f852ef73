"""``paradup serve --workers 2`` on a Redis store for the benchmark's HTTP
figures: the service started and stopped around a block, and its batch
ingest timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from app.engine import DocumentInput
from benchmarks.load.bench_load import post_batches
from tests.live_server import free_port, stop_process
from tests.redis_servers import poll


@contextmanager
def serving(url: str, workdir: Path, workers: int = 2) -> Iterator[str]:
    """The service's base URL, ready, on store ``url``."""
    port = free_port()
    env = {**os.environ, "PARADUP_STORE": url}
    cmd = [sys.executable, "-m", "app.cli", "serve", "--workers", str(workers), "--port", str(port)]
    log = (workdir / f"serve-{port}.log").open("wb")
    # Access logs go to a file: on the terminal they would cost more than the requests.
    server = subprocess.Popen([*cmd, "--log-level", "warning"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if server.poll() is not None:
                raise RuntimeError("paradup serve exited")
            try:
                return httpx.get(base + "/ready", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        poll("paradup serve", ready, deadline=120)
        yield base
    finally:
        stop_process(server, 30)
        log.close()


def bench_http_ingest(url: str, docs: list[DocumentInput], workdir: Path) -> dict[str, Any]:
    """``POST /ingest`` batches of ~5,000 paragraphs from 2 clients to 2
    workers, into the fresh namespace of ``url``: the issue's "2 workers"
    ingest (one client's hashing runs while Redis applies the other's batch)."""
    lines = [json.dumps({"id": d.id, "text": d.text}) for d in docs]
    with serving(url, workdir) as base:
        result = post_batches(base, lines, clients=2)
    result["workers"] = 2
    return result
