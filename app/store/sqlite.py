"""Embedded, persistent store: one SQLite file in WAL mode.

Several processes may open the same file: WAL lets readers run beside the
single writer, and a committed ingest is visible to every connection at
once. Each thread gets its own connection because sqlite3 connections must
not be shared across threads mid-statement.

A paragraph's ref packs its document's row id and its index
(``doc << 20 | index``), so a document's paragraphs are one range of the
primary key and need no secondary index.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from app.store.base import (
    BandKeys,
    Keys,
    NewDocument,
    SchemeMismatch,
    StoredDocument,
    StoredParagraph,
    StoreStats,
    StoreUnavailable,
    WriteStatus,
)

INDEX_BITS = 20
MAX_PARAGRAPHS = 1 << INDEX_BITS
# SQLite's default limit on bound parameters is 32766; stay well below.
CHUNK = 10000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    digest TEXT NOT NULL,
    metadata TEXT NOT NULL,
    paragraphs INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS paragraphs (ref INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bands (
    key INTEGER NOT NULL,
    ref INTEGER NOT NULL,
    PRIMARY KEY (key, ref)
) WITHOUT ROWID;
"""


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


class SqliteStore:
    def __init__(self, path: str | Path, band_keys: BandKeys, scheme: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._band_keys = band_keys
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._check_scheme(scheme)

    # connections

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a process crash; only a power
        # loss can roll back the last transactions, never corrupt the file.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-65536")
        conn.executescript(SCHEMA)
        with self._all_lock:
            self._all.append(conn)
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        # IMMEDIATE takes the write lock up front, so two writers queue
        # instead of failing half-way with SQLITE_BUSY.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _check_scheme(self, scheme: str) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'scheme'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('scheme', ?)", (scheme,))
            elif row[0] != scheme:
                raise SchemeMismatch(
                    f"{self.path} was indexed with {row[0]!r}, not {scheme!r}: "
                    "use the same fingerprint settings or a new store"
                )

    # writes

    def _forget(self, conn: sqlite3.Connection, pk: int, count: int) -> None:
        first = pk << INDEX_BITS
        texts = [
            row[0]
            for row in conn.execute(
                "SELECT text FROM paragraphs WHERE ref >= ? AND ref < ? ORDER BY ref",
                (first, first + count),
            )
        ]
        rows = [
            (int(key), first + index)
            for index, keys in enumerate(self._band_keys(texts))
            for key in keys.tolist()
        ]
        conn.executemany("DELETE FROM bands WHERE key = ? AND ref = ?", rows)
        conn.execute("DELETE FROM paragraphs WHERE ref >= ? AND ref < ?", (first, first + count))

    def put(self, documents: Sequence[NewDocument]) -> list[WriteStatus]:
        statuses: list[WriteStatus] = []
        with self._write() as conn:
            for doc in documents:
                if len(doc.paragraphs) > MAX_PARAGRAPHS:
                    raise ValueError(f"document {doc.id!r} has more than {MAX_PARAGRAPHS} paragraphs")
                row = conn.execute(
                    "SELECT pk, digest, paragraphs FROM documents WHERE id = ?", (doc.id,)
                ).fetchone()
                metadata = json.dumps(doc.metadata, ensure_ascii=False, separators=(",", ":"))
                if row is not None and row[1] == doc.digest:
                    statuses.append("unchanged")
                    continue
                if row is None:
                    cursor = conn.execute(
                        "INSERT INTO documents (id, digest, metadata, paragraphs) VALUES (?, ?, ?, ?)",
                        (doc.id, doc.digest, metadata, len(doc.paragraphs)),
                    )
                    pk = int(cursor.lastrowid or 0)
                    statuses.append("created")
                    delta_docs = 1
                    delta_paras = len(doc.paragraphs)
                else:
                    pk = int(row[0])
                    self._forget(conn, pk, int(row[2]))
                    conn.execute(
                        "UPDATE documents SET digest = ?, metadata = ?, paragraphs = ? WHERE pk = ?",
                        (doc.digest, metadata, len(doc.paragraphs), pk),
                    )
                    statuses.append("updated")
                    delta_docs = 0
                    delta_paras = len(doc.paragraphs) - int(row[2])
                first = pk << INDEX_BITS
                conn.executemany(
                    "INSERT INTO paragraphs (ref, text) VALUES (?, ?)",
                    [(first + i, p.text) for i, p in enumerate(doc.paragraphs)],
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO bands (key, ref) VALUES (?, ?)",
                    [(key, first + i) for i, p in enumerate(doc.paragraphs) for key in p.keys.tolist()],
                )
                self._count(conn, delta_docs, delta_paras)
        return statuses

    def _count(self, conn: sqlite3.Connection, documents: int, paragraphs: int) -> None:
        for key, delta in (("documents", documents), ("paragraphs", paragraphs)):
            conn.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                "SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
                (key, str(delta)),
            )

    def delete(self, document_id: str) -> bool:
        with self._write() as conn:
            row = conn.execute("SELECT pk, paragraphs FROM documents WHERE id = ?", (document_id,)).fetchone()
            if row is None:
                return False
            self._forget(conn, int(row[0]), int(row[1]))
            conn.execute("DELETE FROM documents WHERE pk = ?", (row[0],))
            self._count(conn, -1, -int(row[1]))
        return True

    # reads

    def get(self, document_id: str) -> StoredDocument | None:
        conn = self._conn
        row = conn.execute(
            "SELECT pk, metadata, paragraphs FROM documents WHERE id = ?", (document_id,)
        ).fetchone()
        if row is None:
            return None
        first = int(row[0]) << INDEX_BITS
        texts = conn.execute(
            "SELECT text FROM paragraphs WHERE ref >= ? AND ref < ? ORDER BY ref",
            (first, first + int(row[2])),
        ).fetchall()
        return StoredDocument(document_id, json.loads(row[1]), [t[0] for t in texts])

    def lookup(self, keys: Keys) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        unique = np.unique(keys).tolist()
        conn = self._conn
        for chunk in _chunks(unique):
            marks = ",".join("?" * len(chunk))
            for key, ref in conn.execute(f"SELECT key, ref FROM bands WHERE key IN ({marks})", chunk):
                found.setdefault(key, []).append(ref)
        return found

    def paragraphs(self, refs: Sequence[int]) -> dict[int, StoredParagraph]:
        out: dict[int, StoredParagraph] = {}
        conn = self._conn
        for chunk in _chunks(sorted(set(refs))):
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT p.ref, p.text, d.id FROM paragraphs p "
                f"JOIN documents d ON d.pk = (p.ref >> {INDEX_BITS}) WHERE p.ref IN ({marks})"
            )
            for ref, text, doc_id in conn.execute(query, chunk):
                out[ref] = StoredParagraph(ref, doc_id, ref & (MAX_PARAGRAPHS - 1), text)
        return out

    def stats(self) -> StoreStats:
        rows = dict(
            self._conn.execute("SELECT key, value FROM meta WHERE key IN ('documents', 'paragraphs')")
        )
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return StoreStats(
            int(rows.get("documents", 0)),
            int(rows.get("paragraphs", 0)),
            {"backend": "sqlite", "path": str(self.path), "bytes_on_disk": size},
        )

    def ping(self) -> None:
        try:
            self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self.path} is unavailable: {exc}") from exc

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
