"""Processes for the load benchmark: servers on loopback ports, wrk runs,
resident memory, the access log's server-side timings."""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.store.resident import locked_bytes

ROOT = Path(__file__).resolve().parents[2]

WRK_SCRIPT = """
local bodies = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  i = math.random(#bodies)
end
function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/check", {["Content-Type"] = "application/json"}, bodies[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Server:
    """A server process group on a loopback port, its stderr in a file."""

    command: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    # The source tree the server's code is imported from (see version_env).
    cwd: Path = ROOT
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.started = time.perf_counter()
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(
                [*self.command, "--port", str(self.port)],
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        return self

    def wait_first(self, path: str, body: bytes, deadline: float = 600.0) -> float:
        """Seconds from start to the first 200 answer to POST ``path``."""
        assert self.proc is not None
        with httpx.Client(timeout=30) as client:
            while time.perf_counter() - self.started < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.command} exited: see {self.log}")
                try:
                    r = client.post(
                        self.url + path, content=body, headers={"content-type": "application/json"}
                    )
                    if r.status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.TransportError:
                    pass
                time.sleep(0.005)
        raise RuntimeError(f"{self.command} never answered")

    def pids(self) -> list[int]:
        """The master and its worker processes."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        # Skip multiprocessing's helpers (the resource tracker): workers spawned
        # by uvicorn run spawn_main, workers forked by paradup's own master
        # (app/cli/prefork.py) have the master's command line.
        master = Path(f"/proc/{self.proc.pid}/cmdline").read_bytes()
        workers = []
        for kid in kids:
            try:
                line = Path(f"/proc/{kid}/cmdline").read_bytes()
            except FileNotFoundError:  # exited since the list was read
                continue
            if b"spawn_main" in line or line == master:
                workers.append(kid)
        return [self.proc.pid, *workers]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def version_env(root: Path | None) -> dict[str, str]:
    """Environment that makes ``python -m app...`` import the code of ``root``
    (a checkout of some version of paradup); none for this checkout."""
    return {} if root is None else {"PYTHONPATH": str(root)}


def paradup_cli(root: Path | None, python: Path | None, outside: Path) -> tuple[list[str], Path]:
    """The command that runs paradup's CLI, and its working directory: the
    code of ``root`` (this checkout by default, see ``version_env``) under
    this interpreter, or the package installed in the environment of
    ``python`` (``pip install .``: the service's own dependencies and
    bytecode), run from ``outside`` any source tree so that it is imported."""
    if python:
        return [str(python), "-m", "app.cli"], outside
    return [sys.executable, "-m", "app.cli"], root or ROOT


def paradup_server(
    store: Path,
    workers: int,
    log: Path,
    root: Path | None = None,
    python: Path | None = None,
    settings: dict[str, str] | None = None,
) -> Server:
    """``paradup serve`` on ``store``; ``settings``: PARADUP_ variables it
    runs with (PARADUP_RESIDENT, say)."""
    cli, cwd = paradup_cli(root, python, log.parent)
    cmd = [*cli, "serve", "--store", str(store), "--workers", str(workers)]
    # The access log (info, JSON) is the server-side timing source.
    env = {"PARADUP_LOG_LEVEL": "info", "PARADUP_LOG_FORMAT": "json", **(settings or {}), **version_env(root)}
    return Server([*cmd, "--log-level", "warning"], log, env, cwd=cwd)


def baseline_server(log: Path) -> Server:
    return Server([sys.executable, "-m", "benchmarks.baseline_datasketch"], log)


def memory(pid: int) -> dict[str, int]:
    """VmRSS and its anonymous and file-backed parts, in bytes, and the pages
    only this process has written (``Private_Dirty``): a worker forked from
    a loaded master counts the master's pages it shares in RssAnon, not there
    (the maps it reads, runs and SQLite's, are read-only: never dirty)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            out[name] = int(value.split()[0]) * 1024
    rollup = Path(f"/proc/{pid}/smaps_rollup")
    if rollup.is_file():
        for line in rollup.read_text().splitlines():
            name, _, value = line.partition(":")
            if name == "Private_Dirty":
                out["PrivateDirty"] = int(value.split()[0]) * 1024
    return out


def wait_resident(
    server: Server, store: Path, settings: dict[str, str], deadline: float = 900.0
) -> float | None:
    """Seconds until every worker of ``server`` holds ``store``'s files
    locked (PARADUP_RESIDENT: its VmLck reaches their size), from now; None
    when the setting is off. Timed phases start after it: checks answered
    while the pages are still being read in measure the disk, not the store."""
    mode = settings.get("PARADUP_RESIDENT", "off")
    if mode == "off":
        return None
    files = [p for p in store.parent.glob(store.name + ".run-*") if not p.name.endswith(".tmp")]
    if mode == "all":
        files.append(store)
    expected = sum(p.stat().st_size for p in files)
    started = time.perf_counter()
    while time.perf_counter() - started < deadline:
        pids = server.pids()
        workers = pids[1:] or pids
        if workers and all(locked_bytes(pid) >= expected for pid in workers):
            return round(time.perf_counter() - started, 2)
        time.sleep(0.5)
    raise RuntimeError(f"the workers did not lock {expected} bytes of {store} in {deadline} s")


def service_python(venv: Path) -> Path:
    """The interpreter of ``venv`` with this checkout installed as a service
    install has it (``pip install .``: the service's own dependencies only,
    bytecode compiled by pip), the venv made when missing. pip installs a
    local directory again even at an unchanged version, so every call leaves
    this checkout's code there (and any dependency it newly asks for)."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    return python


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_timings(log: Path, route: str, since_line: int) -> list[float]:
    """duration_ms of the access-log lines for ``route`` after ``since_line``."""
    out = []
    with log.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines):
            if number < since_line or not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("route") == route and entry.get("status") == 200:
                out.append(float(entry["duration_ms"]))
    return out


def line_count(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def wrk(url: str, bodies: Path, seconds: int, connections: int, threads: int, work: Path) -> dict[str, Any]:
    script = work / "check.lua"
    script.write_text(WRK_SCRIPT)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    cmd += ["-s", str(script), f"{url}/check", "--", str(bodies)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    non2xx = 0
    for x in done.stdout.splitlines():
        if "Non-2xx" in x:
            non2xx = int(x.split(":")[1])
    seconds_run = result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("connect", "read", "write", "timeout")) + non2xx
    return {
        "requests": result["requests"],
        "seconds": round(seconds_run, 2),
        "rps": round(result["requests"] / seconds_run, 1),
        "p50_ms": result["p50_us"] / 1000,
        "p90_ms": result["p90_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "max_ms": result["max_us"] / 1000,
        "errors": errors,
        "command": " ".join(cmd),
    }


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50), 3),
        "p99_ms": round(percentile(values, 99), 3),
        "mean_ms": round(statistics.fmean(values), 3) if values else float("nan"),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def store_bytes(store: Path) -> int:
    """The SQLite store's file and its -wal / -shm companions."""
    return sum(p.stat().st_size for p in store.parent.glob(store.name + "*") if p.is_file())


def cli_ingest(
    store: Path, archive: Path, paragraphs: int, root: Path | None = None, python: Path | None = None
) -> dict[str, Any]:
    """``paradup ingest`` of the archive into a new store with the CLI of
    ``paradup_cli(root, python)``: wall time and paragraphs/s."""
    cli, cwd = paradup_cli(root, python, store.parent)
    cmd = [*cli, "ingest", "--store", str(store), str(archive)]
    start = time.perf_counter()
    env = {**os.environ, **version_env(root)}
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    return {
        "seconds": round(elapsed, 2),
        "paragraphs_per_s": round(paragraphs / elapsed),
        "load_average": load_average(),
    }
