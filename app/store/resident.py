"""Keeping an embedded store's files in memory (``PARADUP_RESIDENT``).

A check reads a few index slots and candidate rows scattered over the whole
store: at 10M paragraphs ~2 GiB of runs and ~3.8 GiB of database. The kernel
keeps them in its page cache only while nothing else claims the memory, and
a proactive reclaimer (DAMON's page-out scheme, a cgroup's ``memory.high``,
swap under pressure) takes back what no check touched for a while: the next
check that needs one of those pages waits for the disk. Locking the pages
(``mlock(2)`` of a read-only shared map of each file) makes them
unevictable, as Elasticsearch's ``bootstrap.memory_lock`` does for its heap:

* ``index``: the index's run files, locked as each is opened (a merge's new
  run too; a retired run's lock goes with its map);
* ``all``: the runs and the database file (rows, texts), its growth locked
  when the index moves to a new generation (every write moves it).

Locking starts a second after the store opens and reads the files from
disk once, in a background thread at the lowest CPU priority and in the
idle I/O class, a slice at a time: the start-up does not wait for it, and
checks are answered meanwhile (those that need a page not read yet still
wait for the disk).
The pages are shared with every process that maps the files (the kernel
counts them once, in its page cache, not in any worker's private memory).

``mlock`` needs ``CAP_IPC_LOCK`` or a ``RLIMIT_MEMLOCK`` (``ulimit -l``) at
least the locked size, in every worker. A lock the kernel refuses is logged
once, with the limit and how to raise it, and the store goes on unlocked:
a slower check, never a failed one.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import mmap
import os
import queue
import resource
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

Mode = Literal["off", "index", "all"]
MODES: tuple[Mode, ...] = ("off", "index", "all")
# One mlock call per slice: a close stops within a slice, and the thread
# never holds the address space's lock for a whole file's reading.
SLICE_BYTES = 16 << 20
# Seconds between a store's opening and the start of its locking: the
# worker's start-up and first check read the disk before this thread does.
START_DELAY = 1.0
# ioprio_set(2) on x86-64 and arm64; the idle class: this thread's reads are
# served only when no other read of the machine waits (mq-deadline, bfq).
_IOPRIO_SET = {"x86_64": 251, "aarch64": 30}.get(os.uname().machine)
_IOPRIO_IDLE = 3 << 13

log = logging.getLogger("paradup.store")


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library this process runs on, found the first time a store
    locks (``CDLL(None)``: the symbols already loaded, no ``find_library``,
    which runs ``ldconfig`` in a subprocess, ~20 ms); None where there is
    none (the setting is then refused by ``Resident``)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for name in ("mlock", "munlock"):
            call = getattr(libc, name)
            call.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
            call.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def _locking(name: str, address: int, size: int) -> int:
    """``mlock`` or ``munlock`` of ``size`` bytes at ``address``: 0 or the errno."""
    libc = _libc()
    assert libc is not None  # Resident refuses a mode without it
    return 0 if getattr(libc, name)(address, size) == 0 else ctypes.get_errno()


def locked_bytes(pid: int | str = "self") -> int:
    """What the kernel counts as locked in process ``pid`` (``VmLck``); 0
    where /proc does not say."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmLck:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _idle_io() -> None:
    """This thread's disk reads in the idle class (best effort: a kernel or
    scheduler without I/O priorities serves them as any other)."""
    libc = _libc()
    if _IOPRIO_SET is None or libc is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc.syscall(_IOPRIO_SET, 1, threading.get_native_id(), _IOPRIO_IDLE)  # 1: IOPRIO_WHO_PROCESS


def _meminfo() -> str:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            return meminfo.read()
    except OSError:
        return ""


def lockable_bytes(meminfo: str) -> int | None:
    """What may still be locked: the memory available (page cache the
    locked files already fill counts as available) less a tenth of the
    machine; None when ``meminfo`` (/proc/meminfo) does not say."""
    fields = {}
    for line in meminfo.splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            fields[name] = int(value.split()[0]) * 1024
    if "MemAvailable" not in fields or "MemTotal" not in fields:
        return None
    return max(0, fields["MemAvailable"] - fields["MemTotal"] // 10)


def _limit_text() -> str:
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    return "unlimited" if soft == resource.RLIM_INFINITY else f"{soft} bytes"


class Resident:
    """The locks of one store: ``lock_map`` and ``lock_file`` queue work for
    a background thread (started by the first); ``wait`` returns once the
    queued work is done."""

    def __init__(self, mode: Mode) -> None:
        if mode not in MODES:
            raise ValueError(f"resident must be one of {', '.join(MODES)}, not {mode!r}")
        if mode != "off" and _libc() is None:
            raise ValueError("resident needs mlock(2), which this platform's C library lacks")
        self.mode = mode
        self.error: str | None = None
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        # The database file's maps, each locked (the first from the file's
        # start, each later one from where the one before ended).
        self._file_maps: list[mmap.mmap] = []
        self._file_size = 0
        # Runs' maps locked here: unlocked on close (a retired run's lock
        # goes when its map is unmapped).
        self._run_maps: weakref.WeakSet[mmap.mmap] = weakref.WeakSet()
        self._lock = threading.Lock()

    @property
    def index(self) -> bool:
        return self.mode != "off"

    @property
    def database(self) -> bool:
        return self.mode == "all"

    def lock_map(self, pages: mmap.mmap) -> None:
        """Lock the pages of ``pages`` (a run's map), until it is unmapped."""
        if self.index:
            self._submit(lambda: self._lock_run(pages))

    def lock_file(self, path: Path) -> None:
        """Lock ``path`` (the database file) as far as it now reaches, and
        what it has grown by since the last call."""
        if self.database:
            self._submit(lambda: self._extend(path))

    def wait(self) -> None:
        """Until every lock queued so far is taken (or refused)."""
        if self._thread is not None:
            self._jobs.join()

    def report(self) -> dict[str, object]:
        return {"mode": self.mode, "locked_bytes": locked_bytes(), "error": self.error}

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        with self._lock:
            maps, self._file_maps, self._file_size = self._file_maps, [], 0
            runs = list(self._run_maps)
            self._run_maps.clear()
        for pages in maps:
            pages.close()
        for run in runs:
            self._unlock(run)

    def _submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="paradup-resident", daemon=True)
                self._thread.start()
            self._jobs.put(job)

    def _run(self) -> None:
        # The lowest CPU priority for this thread alone (Linux: a thread's
        # nice value is its own): locking populates every page table entry,
        # ~1 s of CPU for 6 GB, which must not slow the checks of the
        # worker's first seconds.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        _idle_io()
        if self._closed.wait(START_DELAY):
            self._drain()
            return
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if not self._closed.is_set() and self.error is None:
                    job()
            except (OSError, ValueError) as exc:  # a file gone or shrunk meanwhile
                self._refused(str(exc))
            finally:
                self._jobs.task_done()

    @staticmethod
    def _unlock(pages: mmap.mmap) -> None:
        with contextlib.suppress(ValueError):  # unmapped meanwhile
            view = np.frombuffer(pages, dtype=np.uint8)
            _locking("munlock", view.ctypes.data, len(pages))
            del view

    def _lock_run(self, pages: mmap.mmap) -> None:
        if self._lock_pages(pages):
            with self._lock:
                self._run_maps.add(pages)

    def _drain(self) -> None:
        """Closed before starting: every queued job counts as done."""
        while True:
            job = self._jobs.get()
            self._jobs.task_done()
            if job is None:
                return

    def _extend(self, path: Path) -> None:
        size = path.stat().st_size
        with self._lock:
            if size < self._file_size:
                # Shrunk (a VACUUM): the old maps reach past its end.
                for pages in self._file_maps:
                    pages.close()
                self._file_maps, self._file_size = [], 0
            start = self._file_size - self._file_size % mmap.ALLOCATIONGRANULARITY
            if size <= self._file_size:
                return
            with open(path, "rb") as f:
                pages = mmap.mmap(f.fileno(), size - start, access=mmap.ACCESS_READ, offset=start)
            self._file_maps.append(pages)
            self._file_size = size
        self._lock_pages(pages)

    def _lock_pages(self, pages: mmap.mmap) -> bool:
        """Whether some of the map got locked."""
        size = len(pages)
        room = lockable_bytes(_meminfo())
        if room is not None and size > room:
            # Locking more than the machine can spare would have the kernel
            # kill processes (root's limit does not stop it): refused instead.
            self._refused(f"{size} bytes to lock, {room} the machine can spare (MemAvailable - 10 %)")
            return False
        # The view holds the map open (and mapped) while its pages are locked.
        view = np.frombuffer(pages, dtype=np.uint8)
        address, locked = view.ctypes.data, False
        for first in range(0, size, SLICE_BYTES):
            if self._closed.is_set():
                break
            errno = _locking("mlock", address + first, min(SLICE_BYTES, size - first))
            if errno:
                self._refused(os.strerror(errno))
                break
            locked = True
        del view
        return locked

    def _refused(self, reason: str) -> None:
        if self.error is None:
            self.error = reason
            log.warning(
                "the store's pages are not kept in memory (PARADUP_RESIDENT=%s): mlock failed: %s; "
                "locked memory limit %s: raise it (ulimit -l, LimitMEMLOCK= in systemd, "
                "--ulimit memlock=-1 in Docker) or grant CAP_IPC_LOCK",
                self.mode,
                reason,
                _limit_text(),
            )
