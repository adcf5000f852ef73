from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.engine import Paradup
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store=f"sqlite:///{tmp_path}/index.db")


@pytest.fixture
def service(settings: Settings) -> Iterator[Paradup]:
    svc = Paradup.open(settings)
    yield svc
    svc.close()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real `paradup serve` process on a loopback port."""

    def __init__(self, store: str, workers: int = 1, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = store
        self.workers = workers
        quiet = {"PARADUP_LOG_LEVEL": "warning"}  # access logs would drown test output
        self.env = {**os.environ, **quiet, "PARADUP_STORE": store, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        cmd = [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)]
        cmd += ["--workers", str(self.workers), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT)
        # Readiness is polled, not timed: the deadline only bounds a hung start.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/ready", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# Backends of the store contract suite. The Redis backends add their params
# (and the fixtures that start real servers) in tests/redis_servers.py.
STORE_BACKENDS = ["sqlite", "redis", "redis-cluster"]
pytest_plugins = ["tests.redis_servers"]


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/contract.db"
    url: str = request.getfixturevalue(f"{request.param.replace('-', '_')}_url")
    return url
