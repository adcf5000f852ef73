"""`paradup serve --workers 2`: workers forked from one master (app/cli/prefork.py),
as real processes on a real port. Which worker answered is told by the
``x-served-by`` header (its pid)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.articles import ARCHIVED_EN
from tests.conftest import ROOT, Server
from tests.live_server import free_port

# Real servers: `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow

# Bounds a hung wait only; no assertion depends on how long anything takes.
DEADLINE = 120.0


def children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.05)


def served_by(url: str, path: str = "/health") -> int:
    # A new connection each time lets the kernel hand it to either worker.
    with httpx.Client(base_url=url, timeout=30) as client:
        r = client.get(path)
    assert r.status_code == 200
    return int(r.headers["x-served-by"].removeprefix("pid-"))


def test_both_forked_workers_answer_checks_and_the_master_holds_no_store(tmp_path: Path) -> None:
    store = tmp_path / "forked.db"
    with Server(f"sqlite:///{store}", workers=2) as server:
        assert server.proc is not None
        master = server.proc.pid
        until(lambda: len(children(master)) == 2, "two workers")
        workers = children(master)
        answered: set[int] = set()

        def check() -> bool:
            with httpx.Client(base_url=server.url, timeout=30) as c:
                r = c.post("/check", json={"text": ARCHIVED_EN})
            assert r.status_code == 200
            assert len(r.json()["paragraphs"]) == 3
            answered.add(int(r.headers["x-served-by"].removeprefix("pid-")))
            return answered == workers

        until(check, "both workers answering /check")

        # The store is opened after the fork, in each worker: the master
        # never holds its file (nor its connections, maps or threads).
        def holds_store(pid: int) -> bool:
            fds = Path(f"/proc/{pid}/fd")
            return any(os.readlink(fd).startswith(str(store)) for fd in fds.iterdir() if fd.is_symlink())

        assert all(holds_store(pid) for pid in workers)
        assert not holds_store(master)


def two_workers(store: Path) -> tuple[Server, subprocess.Popen[bytes], set[int]]:
    """A started server, its master process and its two workers' pids."""
    server = Server(f"sqlite:///{store}", workers=2).start()
    assert server.proc is not None
    master = server.proc.pid
    until(lambda: len(children(master)) == 2, "two workers")
    return server, server.proc, children(master)


def test_metrics_add_up_both_workers(tmp_path: Path) -> None:
    server, _, workers = two_workers(tmp_path / "metrics.db")
    try:
        answered: list[int] = []

        def both() -> bool:
            answered.append(served_by(server.url))
            return set(answered) == workers

        until(both, "both workers answering /health")
        scrape = httpx.get(server.url + "/metrics", timeout=30).text
        health = [x for x in scrape.splitlines() if x.startswith("paradup_http_requests_total{")]
        health = [x for x in health if 'route="/health"' in x]
        # Every /health answered is counted, whichever worker answered it.
        assert sum(float(x.rsplit(" ", 1)[1]) for x in health) == len(answered)
    finally:
        server.stop()


def test_sigterm_stops_the_master_and_every_worker(tmp_path: Path) -> None:
    server, master, workers = two_workers(tmp_path / "stop.db")
    master.send_signal(signal.SIGTERM)
    assert master.wait(DEADLINE) == 0
    server.client.close()
    assert not any(alive(pid) for pid in workers)


def test_a_killed_worker_is_replaced_and_the_service_answers(tmp_path: Path) -> None:
    server, master, before = two_workers(tmp_path / "replace.db")
    try:
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        pid = master.pid
        until(lambda: victim not in children(pid) and len(children(pid)) == 2, "a replacement")
        replacement = (children(pid) - before).pop()
        survivor = (before - {victim}).pop()
        # The replacement serves (once its lifespan has opened the store);
        # the survivor never stopped.
        seen: set[int] = set()

        def both() -> bool:
            seen.add(served_by(server.url, "/ready"))
            return {replacement, survivor} <= seen

        until(both, "the replacement and the survivor answering")
        r = httpx.post(server.url + "/check", json={"text": ARCHIVED_EN}, timeout=30)
        assert r.status_code == 200
    finally:
        server.stop()


def test_sighup_replaces_every_worker_and_the_service_answers(tmp_path: Path) -> None:
    server, master, before = two_workers(tmp_path / "hup.db")
    try:
        master.send_signal(signal.SIGHUP)
        pid = master.pid
        until(lambda: not children(pid) & before and len(children(pid)) == 2, "two new workers")
        assert not any(alive(old) for old in before)
        fresh = children(pid)
        seen: set[int] = set()

        def both() -> bool:
            seen.add(served_by(server.url, "/ready"))
            return seen == fresh

        until(both, "both new workers answering")
        assert master.poll() is None
    finally:
        server.stop()


def test_killing_the_master_leaves_no_orphan_worker(tmp_path: Path) -> None:
    server, master, workers = two_workers(tmp_path / "orphan.db")
    master.kill()
    master.wait(DEADLINE)
    server.client.close()
    until(lambda: not any(alive(pid) for pid in workers), "the workers exiting after their master")


def test_a_store_that_cannot_open_stops_the_service_with_a_startup_failure(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"not a database, not at all" * 200)
    cmd = [sys.executable, "-m", "app.cli", "serve", "--workers", "2", "--log-level", "warning"]
    env = {**os.environ, "PARADUP_STORE": f"sqlite:///{damaged}", "PARADUP_LOG_LEVEL": "warning"}
    cmd += ["--port", str(free_port())]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=DEADLINE)
    assert done.returncode == 3  # uvicorn's start-up failure, as with one worker
    assert b"damaged" in done.stderr
