"""redis-server processes for the tests and the benchmarks: one server on a
free loopback port, readiness polled, and what its keys weigh.

tests/redis_servers.py builds the clusters and the pytest fixtures on these.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

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


def memory_usage(nodes: list[RedisServer], pattern: str) -> dict[int, dict[str, int]]:
    """Keys matching ``pattern`` and the sum of their MEMORY USAGE, per node (by port)."""
    out = {}
    for node in nodes:
        keys = total = 0
        with node.client() as client:
            for key in client.scan_iter(match=pattern, count=1000):
                keys += 1
                total += int(client.memory_usage(key, samples=0) or 0)
        out[node.port] = {"keys": keys, "memory_usage": total}
    return out
