"""The SQLite library the store runs on, and every module that opens its file.

pysqlite3 (the standard library's module built against a current SQLite of
its own) where its wheel exists (Linux x86_64), else the standard library's
module and the system's SQLite. Why: SQLite caps a file's memory map at its
build's SQLITE_MAX_MMAP_SIZE, 2 GB in Debian's and most distributions'
builds, and a store of 10 million paragraphs is a 4 GB file: beyond the
map, every page read is a ``pread`` of a 32 KiB page into SQLite's cache.
pysqlite3's build maps the whole file. The file format and the locking
protocol are SQLite's, whichever library wrote them: other processes may run
any SQLite on the same file.

Within one process, though, only this library may open a store's files.
POSIX locks belong to the process, not to the descriptor, so a second SQLite
library in the same process (the standard ``sqlite3`` beside pysqlite3)
sees none of the first's connections: it takes itself for the file's only
user, truncates the ``-shm`` index that the first has memory-mapped (a
SIGBUS in whichever thread of the first touches it next) and, closing,
checkpoints and deletes the ``-wal`` and ``-shm`` under the first's open
connections. tests/test_architecture.py holds app, tests and benchmarks to
importing SQLite from here only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3 as sqlite3
else:
    try:
        from pysqlite3 import dbapi2 as sqlite3
    except ImportError:  # no wheel for this platform: the system's SQLite
        import sqlite3

__all__ = ["sqlite3"]
