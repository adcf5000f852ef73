from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings

from app.api.factory import create_app
from app.engine import Service
from app.settings import Settings
from tests.live_server import LiveServer


def pytest_configure(config: pytest.Config) -> None:
    """Compile and cache every kernel once, in the process that starts the
    test workers, before any of them runs: on a clean checkout numba
    compiles them in ~40 s of CPU, and two workers doing it at once inside
    their first servers' start-up left one server unstarted past the tests'
    two-minute liveness guard on a loaded machine. Later runs load the cache."""
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller did it
        return
    import tempfile

    from app.engine import DocumentInput
    from app.engine.warm import warm_kernels

    warm_kernels(Settings())
    # The store's writing and merging kernels too: one document in, a
    # check, a full compaction.
    with tempfile.TemporaryDirectory() as directory:
        service = Service.open(Settings(store=f"sqlite:///{directory}/warm.db"))
        try:
            text = "The harbour authority approved the new ferry terminal after a two-year study."
            service.ingest([DocumentInput("warm", text)])
            service.check(text)
            service.store.compact(full=True)
        finally:
            service.close()


# No test may depend on timing: hypothesis' per-example deadline would fail
# a property on a slow first call (numba loading its cache) or a busy machine.
hypothesis_settings.register_profile("paradup", deadline=None)
hypothesis_settings.load_profile("paradup")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store=f"sqlite:///{tmp_path}/index.db")


@pytest.fixture
def service(settings: Settings) -> Iterator[Service]:
    svc = Service.open(settings)
    yield svc
    svc.close()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


class Server(LiveServer):
    """A real `paradup serve` process on a loopback port; its warnings and
    errors reach the test output."""

    def __init__(self, store: str, workers: int = 1, env: dict[str, str] | None = None) -> None:
        args = ["app.cli", "serve", "--workers", str(workers), "--log-level", "warning"]
        quiet = {"PARADUP_LOG_LEVEL": "warning"}  # access logs would drown test output
        super().__init__(args, {**quiet, "PARADUP_STORE": store, **(env or {})}, quiet=False)


# Backends of the store contract suite. The Redis backends add their params
# (and the fixtures that start real servers) in tests/redis_servers.py.
# The Redis ones start real servers: slow, like every real-server test.
STORE_BACKENDS = [
    "sqlite",
    pytest.param("redis", marks=pytest.mark.slow),
    pytest.param("redis-cluster", marks=pytest.mark.slow),
]
pytest_plugins = ["tests.redis_servers"]


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/contract.db"
    url: str = request.getfixturevalue(f"{request.param.replace('-', '_')}_url")
    return url
