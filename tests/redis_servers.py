"""Real redis-server processes for the Redis backend's tests.

Each pytest process (each xdist worker) starts its own servers on free
loopback ports in a temporary directory, so workers never share data or
ports; each test then gets a namespace of its own on them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.live_server import free_port, stop_process

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
DEADLINE = 30.0  # bounds a hung start; readiness itself is polled
MISSING = "redis-server is not installed (make system-deps installs it with apt)"


def have_redis() -> bool:
    return Path(REDIS_SERVER).is_file() and Path(REDIS_CLI).is_file()


def poll(what: str, ready: Callable[[], bool], deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {deadline}s")


class RedisServer:
    """One redis-server process: no persistence, loopback only."""

    def __init__(self, workdir: Path, port: int | None = None, *extra: str) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        cmd = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no"]
        cmd += ["--logfile", f"redis-{self.port}.log", *self.extra]
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=subprocess.DEVNULL)
        poll(f"redis-server on port {self.port}", self._answers)
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            log = (self.workdir / f"redis-{self.port}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server on port {self.port} exited: {log}")
        try:
            with redis.Redis(port=self.port, socket_connect_timeout=0.5) as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 10)
        self.proc = None


def start_server(workdir: Path, *extra: str) -> RedisServer:
    """Start on a free port, trying another if a parallel process took it first."""
    for attempt in range(5):
        try:
            return RedisServer(workdir, None, *extra).start()
        except RuntimeError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


class RedisCluster:
    """Three masters, no replicas, created with redis-cli --cluster create."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.nodes: list[RedisServer] = []

    def start(self) -> RedisCluster:
        for _ in range(3):
            node_dir = Path(tempfile.mkdtemp(dir=self.workdir))
            options = {
                "--cluster-enabled": "yes",
                "--cluster-config-file": "nodes.conf",
                "--cluster-port": str(free_port()),
                "--cluster-node-timeout": "5000",
            }
            self.nodes.append(start_server(node_dir, *(x for pair in options.items() for x in pair)))
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=DEADLINE,
        )
        poll("redis cluster", self._ok)
        return self

    def _ok(self) -> bool:
        for node in self.nodes:
            with node.client() as client:
                # redis-py parses CLUSTER INFO into a dict of strings
                if client.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                    return False
        return True

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def namespace() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"t-{worker}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def redis_workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="paradup-redis-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(redis_workdir: Path) -> Iterator[RedisServer]:
    if not have_redis():
        pytest.skip(MISSING)
    server = start_server(Path(tempfile.mkdtemp(dir=redis_workdir)))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(redis_workdir: Path) -> Iterator[RedisCluster]:
    if not have_redis():
        pytest.skip(MISSING)
    cluster = RedisCluster(redis_workdir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


# The servers live for the session; the URLs are per test because each test
# gets a fresh namespace (the contract tests assume an empty index).
@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return f"{redis_server.url}?namespace={namespace()}&create=1"


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    return f"{redis_cluster.url}?namespace={namespace()}&create=1"
