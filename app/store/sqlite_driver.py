"""The SQLite library the store runs on.

pysqlite3 (the standard library's module built against a current SQLite of
its own) where its wheel exists (Linux x86_64), else the standard library's
module and the system's SQLite. Why: SQLite caps a file's memory map at its
build's SQLITE_MAX_MMAP_SIZE, 2 GB in Debian's and most distributions'
builds, and a store of 10 million paragraphs is a 4 GB file: beyond the
map, every page read is a ``pread`` of a 32 KiB page into SQLite's cache
(measured on such a store: 0.87 ms for a check's 18 candidate rows, 0.35 ms
inside the map). pysqlite3's build maps the whole file. The file format is
SQLite's, whichever library wrote it.
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
