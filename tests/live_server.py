"""Start a service under test as a real process on a loopback port, and talk to it.

Shared by the benchmarks and the test suite (tests/conftest.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Self

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL if the process is still there after ``grace`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class LiveServer:
    """A server process that answers ``GET /ready`` once it can serve."""

    def __init__(self, module_args: list[str], env: dict[str, str] | None = None, quiet: bool = True) -> None:
        self.port = free_port()
        self.quiet = quiet
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", *module_args, "--port", str(self.port)]
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        # Where the server's output goes when not quiet (None: this process's).
        self.output: IO[bytes] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=300)

    @classmethod
    def paradup(cls, store: str, env: dict[str, str] | None = None) -> LiveServer:
        args = ["app.cli", "serve", "--workers", "1", "--log-level", "warning"]
        return cls(args, {"PARADUP_STORE": store, **(env or {})})

    @classmethod
    def baseline(cls) -> LiveServer:
        return cls(["benchmarks.baseline_datasketch"])

    def start(self) -> Self:
        # The servers log every request; the evaluation reports its own figures.
        out = subprocess.DEVNULL if self.quiet else self.output
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=ROOT, stdout=out, stderr=out)
        # Readiness is polled; the deadline only bounds a hung start.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.cmd} exited with {self.proc.returncode}")
            try:
                if self.client.get("/ready", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.cmd} did not become ready")

    def post(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """The JSON answer and the wall-clock seconds the request took."""
        started = time.perf_counter()
        response = self.client.post(path, json=body)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer, elapsed

    def stop(self) -> None:
        self.client.close()
        if self.proc:
            stop_process(self.proc, 30)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
