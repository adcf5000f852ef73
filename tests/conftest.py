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
