"""Connections to the SQLite store's file: pages, WAL mode, caches, memory
map and cell checks, the same for every connection a store opens."""

from __future__ import annotations

import time
from pathlib import Path

from app.store.sqlite_driver import sqlite3

# Per connection, and every server thread has one: the OS page cache, shared
# by all processes, holds the rest of the file.
CACHE_KIB = 16384
# Reads through a memory map skip a system call and a copy per page; the
# mapped pages are the OS page cache, shared by every worker. SQLite caps the
# map at its build's SQLITE_MAX_MMAP_SIZE (2 GB in the system's builds
# measured, which then read the rest of a larger file with pread; see
# sqlite_driver): the whole file up to 256 GB otherwise. Address space, not
# memory: a 64-bit process has plenty, and pages are read in as they are used.
MMAP_BYTES = 1 << 38
# Bulk writes rewrite most bucket rows: a larger cache for the writer keeps
# the interior pages of the index from being evicted mid-transaction.
WRITE_CACHE_KIB = 262144
# Pages of a new store file. A page keeps, unused, the part of a row that no
# longer fits: with 4 KiB pages and paragraphs of a few hundred bytes that
# was 37 bytes a paragraph at 1M (SQLite's dbstat), 14 with 32 KiB. Larger
# pages would save a few more bytes but make each small write log more.
PAGE_BYTES = 32768
# How long a new connection waits for another to finish switching the file
# to WAL mode (the busy timeout of every other statement).
WAL_SWITCH_SECONDS = 30.0


def _enter_wal(conn: sqlite3.Connection) -> None:
    """WAL mode, waiting out another process that switches the same new
    file at the same moment: SQLite refuses one of two such switches at once
    (SQLITE_BUSY without waiting, as both would need the other's lock), and
    forked workers opening a new store meet exactly then."""
    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def connect(path: Path, checked: bool = False) -> sqlite3.Connection:
    """A connection set up as the store reads and writes (``checked``: with
    B-tree cell checks, for connections that write)."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    # Takes effect only in a file that has no table yet (and only before
    # WAL mode): an existing store keeps its pages.
    conn.execute(f"PRAGMA page_size={PAGE_BYTES}")
    _enter_wal(conn)
    # NORMAL in WAL mode: a commit survives a process crash; only a power
    # loss can roll back the last transactions, never corrupt the file.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    # Checks each B-tree cell's size as it is read, so that damage is
    # reported where it is met instead of spreading into later writes:
    # on for writes (``_write``, the compaction's connection) only, as it
    # costs reads a third of their time and reads cannot spread damage.
    conn.execute(f"PRAGMA cell_size_check={'ON' if checked else 'OFF'}")
    return conn
