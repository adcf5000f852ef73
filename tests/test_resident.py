"""``PARADUP_RESIDENT``: an embedded store's runs (and, with ``all``, its
database file) locked in memory, read off the kernel's own count of this
process's locked pages (``VmLck``); a lock the kernel refuses leaves a
warning and a store that still answers."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from app.settings import Settings
from app.store import resident, sqlite_index
from app.store.resident import Mode, Resident, lockable_bytes, locked_bytes
from app.store.sqlite import SqliteStore
from tests.test_store_contract import FP
from tests.test_store_runs import keyed, no_keys

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def _can_lock(size: int) -> bool:
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    return os.geteuid() == 0 or soft == resource.RLIM_INFINITY or soft >= size + locked_bytes()


needs_locking = pytest.mark.skipif(
    not _can_lock(64 << 20) or not Path("/proc/self/status").is_file(),
    reason="needs Linux and a locked-memory limit of 64 MiB (ulimit -l) or root",
)


def _pages(size: int) -> int:
    return -(-size // PAGE) * PAGE


def _runs(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".run-*"))


@pytest.fixture(autouse=True)
def _small_flushes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes of a few hundred entries make runs; locking starts at once."""
    monkeypatch.setattr(sqlite_index, "FLUSH_ENTRIES", 64)
    monkeypatch.setattr(resident, "START_DELAY", 0.0)


def _key(n: int) -> int:
    """Keys far apart in their top 40 bits (a run's codes)."""
    return (n * 0x9E3779B97F4A7C15) % (1 << 64) - (1 << 63)


SHARED = _key(1)


def _filled(store: SqliteStore, documents: int, start: int = 0, words: int = 0) -> set[int]:
    """Documents of two paragraphs (of ``words`` more words each), the first
    with a key they all share; the refs a lookup of that key finds."""
    batch = []
    for n in range(start, start + documents):
        doc = keyed(f"d{n}", 1, [[SHARED, _key(n + 2)], [_key(n + 50_000)]])
        padded = [replace(p, text=p.text + " word" * words) for p in doc.paragraphs]
        batch.append(replace(doc, paragraphs=padded))
    store.put(batch)
    return set(store.lookup(np.array([SHARED], dtype=np.int64))[SHARED])


def _with_a_run(store: SqliteStore) -> None:
    """300 documents merged into a run, one more written after, then a
    lookup (which opens the new generation's runs, and locks them), and
    the locks queued so far taken."""
    _filled(store, 300)
    store.compact(full=True)
    assert _runs(store.path), "the test needs a run file"
    assert len(_filled(store, 1, start=300)) == 301
    store._resident.wait()


@contextmanager
def _store_with_a_run(path: Path, mode: Mode) -> Iterator[tuple[SqliteStore, int]]:
    """A store (``_with_a_run``) and this process's locked bytes before it;
    once closed, the store holds no lock."""
    before = locked_bytes()
    store = SqliteStore(path, no_keys, FP.scheme, resident=mode)
    try:
        _with_a_run(store)
        yield store, before
    finally:
        store.close()
    assert locked_bytes() == before


def _run_bytes(path: Path) -> int:
    return sum(_pages(p.stat().st_size) for p in _runs(path))


@needs_locking
def test_all_locks_the_runs_and_the_database_and_close_unlocks_them(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with _store_with_a_run(path, "all") as (store, before):
        database = _pages(path.stat().st_size)
        assert locked_bytes() - before >= _run_bytes(path) + database
        report = store.stats().extra["resident"]
        assert report["mode"] == "all" and report["error"] is None
        assert report["locked_bytes"] >= _run_bytes(path) + database
        # The database grows with writes: its new pages are locked at the
        # next generation too.
        grown = path.stat().st_size
        start = 301
        while path.stat().st_size <= grown:  # SQLite's checkpoints move the WAL into the file
            _filled(store, 200, start, words=1500)
            start += 200
        store.compact(full=True)
        _filled(store, 1, start)
        store._resident.wait()
        assert locked_bytes() - before >= _pages(path.stat().st_size) + _pages(_runs(path)[-1].stat().st_size)


@needs_locking
def test_index_locks_the_runs_and_not_the_database(tmp_path: Path) -> None:
    path = tmp_path / "i.db"
    with _store_with_a_run(path, "index") as (_, before):
        runs = _run_bytes(path)
        assert runs > 0
        assert runs <= locked_bytes() - before < runs + _pages(path.stat().st_size)


@needs_locking
def test_a_store_opened_on_runs_locks_them_before_any_check(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with _store_with_a_run(path, "off"):
        pass
    before = locked_bytes()
    store = SqliteStore(path, no_keys, FP.scheme, resident="all")
    try:
        store._resident.wait()  # no lookup, no write: the open alone
        assert locked_bytes() - before >= _run_bytes(path) + _pages(path.stat().st_size)
    finally:
        store.close()
    assert locked_bytes() == before


def test_off_locks_nothing(tmp_path: Path) -> None:
    with _store_with_a_run(tmp_path / "o.db", "off") as (store, before):
        assert locked_bytes() == before
        assert "resident" not in store.stats().extra


REFUSED = """
import resource, sys
import numpy as np
from pathlib import Path
from app.store import resident, sqlite_index
from app.store.sqlite import SqliteStore
from tests.test_store_contract import FP
from tests.test_store_runs import keyed, no_keys
from app.store import resident
resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))
sqlite_index.FLUSH_ENTRIES = 64
resident.START_DELAY = 0.0
store = SqliteStore(Path(sys.argv[1]), no_keys, FP.scheme, resident="all")
store.put([keyed(f"d{n}", 1, [[-5, n * 7919 << 30]]) for n in range(200)])
store.compact(full=True)
found = store.lookup(np.array([-5], dtype=np.int64))
store._resident.wait()
print(len(set(found[-5])), store.stats().extra["resident"]["error"])
store.close()
"""


def test_a_refused_lock_is_logged_once_and_the_store_still_answers(tmp_path: Path) -> None:
    command = [sys.executable, "-c", REFUSED, str(tmp_path / "x.db")]
    if os.geteuid() == 0:
        # Root locks whatever its limit says: without CAP_IPC_LOCK it cannot.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root, and setpriv (util-linux) is missing to drop CAP_IPC_LOCK")
        command = [setpriv, "--bounding-set", "-ipc_lock", "--inh-caps", "-ipc_lock", *command]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    count, error = done.stdout.split(maxsplit=1)
    assert count == "200"
    assert error.strip() not in ("", "None")
    assert done.stderr.count("mlock failed") == 1
    assert "ulimit -l" in done.stderr


def test_unknown_modes_are_refused() -> None:
    with pytest.raises(ValidationError, match="resident"):
        Settings(resident="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one of off, index, all"):
        Resident("sometimes")  # type: ignore[arg-type]
    assert Settings().resident == "off"


@pytest.mark.slow
@needs_locking
def test_a_served_store_reports_its_pages_locked(tmp_path: Path) -> None:
    """Through ``paradup serve``: the setting reaches the store, a check
    starts the locking, and ``/stats`` says what the worker holds."""
    from tests.conftest import Server
    from tests.redis_procs import poll

    with Server(f"sqlite:///{tmp_path}/s.db", env={"PARADUP_RESIDENT": "all"}) as server:
        text = "A paragraph the archive keeps, long enough to be fingerprinted for the test."
        ingested = server.client.post("/ingest", json={"id": "a", "text": text})
        assert ingested.status_code == 200, ingested.text
        assert server.client.post("/check", json={"text": text}).json()["paragraphs"][0]["matches"]

        def locked() -> bool:
            report = server.client.get("/stats").json()["resident"]
            assert report["mode"] == "all" and report["error"] is None
            return int(report["locked_bytes"]) >= (tmp_path / "s.db").stat().st_size

        poll("the store's pages locked", locked)


def test_what_may_be_locked_leaves_a_tenth_of_the_machine() -> None:
    meminfo = "MemTotal:       10000000 kB\nMemFree:         100 kB\nMemAvailable:    6000000 kB\n"
    assert lockable_bytes(meminfo) == (6_000_000 - 1_000_000) * 1024
    assert lockable_bytes("MemTotal: 100 kB\nMemAvailable: 5 kB\n") == 0
    assert lockable_bytes("") is None  # no /proc: the kernel's own limits decide


@pytest.mark.skipif(
    os.uname().machine not in ("x86_64", "aarch64"), reason="ioprio numbers known for x86-64, arm64"
)
def test_the_locking_thread_reads_in_the_idle_io_class_and_nothing_else_does() -> None:
    import ctypes
    import ctypes.util
    import threading

    from app.store.resident import _idle_io

    ioprio_get = {"x86_64": 252, "aarch64": 31}[os.uname().machine]
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    classes: list[int] = []

    def locking_thread() -> None:
        _idle_io()
        classes.append(libc.syscall(ioprio_get, 1, threading.get_native_id()) >> 13)

    thread = threading.Thread(target=locking_thread)
    thread.start()
    thread.join()
    assert classes == [3]  # IOPRIO_CLASS_IDLE
    assert libc.syscall(ioprio_get, 1, threading.get_native_id()) >> 13 != 3
