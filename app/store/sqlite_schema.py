"""The SQLite store's file format: its tables, its format names, and the
upgrade of the format before sorted runs (opened and upgraded in place)."""

from __future__ import annotations

from app.store.sqlite_bands import BUCKET_BITS
from app.store.sqlite_driver import sqlite3
from app.store.sqlite_index import INDEX_SCHEMA
from app.store.sqlite_runs import CODE_BITS

# The format before the sorted runs: still opened, and upgraded in place.
FORMAT_2 = f"paradup-sqlite-2 buckets={BUCKET_BITS} entry=tag16+ref32"
FORMAT = f"paradup-sqlite-3 runs=code{CODE_BITS} segments legacy-bands={BUCKET_BITS}"
MAX_REF = (1 << 32) - 1
SCHEMA_2: tuple[str, ...] = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE documents (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        digest TEXT NOT NULL,
        metadata TEXT NOT NULL,
        first INTEGER NOT NULL,
        paragraphs INTEGER NOT NULL
    )""",
    "CREATE TABLE paragraphs (ref INTEGER PRIMARY KEY, doc INTEGER NOT NULL, text TEXT NOT NULL)",
    "CREATE TABLE bands (bucket INTEGER PRIMARY KEY, entries BLOB NOT NULL)",
)
SCHEMA = (*SCHEMA_2, *INDEX_SCHEMA)


def upgrade(conn: sqlite3.Connection) -> None:
    """Format 2 to 3 in one transaction, at a cost that does not grow
    with the archive: the bucket rows stay where they are."""
    for statement in INDEX_SCHEMA:
        conn.execute(statement)
    (next_ref,) = conn.execute("SELECT coalesce(max(ref), 0) + 1 FROM paragraphs").fetchone()
    conn.executemany(
        "INSERT OR REPLACE INTO meta VALUES (?, ?)",
        [
            ("format", FORMAT),
            ("next_ref", str(next_ref)),
            ("legacy_end", str(next_ref)),
            ("index_gen", "1"),
        ],
    )


__all__ = ["FORMAT", "FORMAT_2", "MAX_REF", "SCHEMA", "SCHEMA_2", "upgrade"]
