"""Embedded, persistent store: one SQLite file in WAL mode.

Several processes may open the same file: WAL lets readers run beside the
single writer, and a committed ingest is visible to every connection at
once. Each thread gets its own connection because sqlite3 connections must
not be shared across threads mid-statement.

Paragraph refs are consecutive integers: a document's paragraphs are the
range ``first .. first + count`` of the primary key, so they need no
secondary index, and a ref fits in 32 bits. Refs are never reused: the next
one is the ``next_ref`` high-water mark in ``meta``, not ``max(ref) + 1``.

The index of keys (band keys and passage fingerprints) is ``sqlite_index``:
recent entries in SQLite, the rest in immutable sorted run files beside the
database, so that a lookup's cost does not grow with the archive and a bulk
write appends instead of rewriting bucket rows. A store written in the
earlier format (bucket rows in ``bands``) is upgraded on open: its
``bands`` rows stay and are read as before, new entries go to the new index.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import numpy as np

from app.store.base import (
    BandKeys,
    CandidateRule,
    Candidates,
    Keys,
    LazyJson,
    NewDocument,
    StoreBroken,
    StoredDocument,
    StoredParagraph,
    StoreError,
    StoreStats,
    StoreUnavailable,
    WriteStatus,
    asked,
    candidates_by_two_calls,
    refuse_repeated_ids,
)
from app.store.hits import Hits
from app.store.packed import PackedDocuments
from app.store.resident import Mode, Resident
from app.store.sqlite_bands import chunks
from app.store.sqlite_bulk import put_packed
from app.store.sqlite_checks import REPAIR, StoreFormatError, is_damage, probe, schema_problem, tables
from app.store.sqlite_compact import Background, remove_orphans
from app.store.sqlite_connect import CACHE_KIB, WRITE_CACHE_KIB, connect
from app.store.sqlite_driver import sqlite3
from app.store.sqlite_index import Index, add_entries, forget_refs
from app.store.sqlite_kernels import warm_up_lookup
from app.store.sqlite_runs import RunDamaged
from app.store.sqlite_schema import FORMAT, FORMAT_2, MAX_REF, SCHEMA, SCHEMA_2, upgrade

log = logging.getLogger(__name__)


P = ParamSpec("P")
R = TypeVar("R")


def _translated(method: Callable[Concatenate[SqliteStore, P], R]) -> Callable[Concatenate[SqliteStore, P], R]:
    """SQLite's failures as the store contract's: a damaged file breaks the
    store for good (see ``sqlite_checks``), a locked, full or failing one is
    unavailable for now, anything else a store error."""

    @functools.wraps(method)
    def wrapper(store: SqliteStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        store._refuse_if_broken()
        try:
            return method(store, *args, **kwargs)
        except (sqlite3.Error, OSError, RunDamaged) as exc:
            raise store._failure(exc) from exc

    return wrapper


class SqliteStore:
    local = True
    # Forgets an old version by its ref range: ``band_keys`` is never called.
    recomputes_keys = False
    # Off in tests that inspect the runs right after a write.
    background_compaction = True

    def __init__(self, path: str | Path, band_keys: BandKeys, scheme: str, resident: Mode = "off") -> None:
        self.path = Path(path)
        self._resident = Resident(resident)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._band_keys = band_keys
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        # Set for good when the file turns out damaged: every call then fails.
        self._broken: str | None = None
        self._check_file(scheme)
        self._compaction = Background(self._index, lambda: self._connect(checked=True))
        warm_up_lookup()
        if self._resident.index:
            # The runs opened (mapped, not read) now, so that their locking
            # starts at once rather than at the first check.
            try:
                self._index.refresh(self._conn)
            except (sqlite3.Error, OSError, RunDamaged) as exc:
                raise self._failure(exc) from exc

    # connections

    def _connect(self, checked: bool = False) -> sqlite3.Connection:
        conn = connect(self.path, checked)
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
                raise self._failure(exc, f"cannot open SQLite store {self.path}") from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        conn.execute("PRAGMA cell_size_check=ON")
        # IMMEDIATE takes the write lock up front, so two writers queue
        # instead of failing half-way with SQLITE_BUSY.
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # also after a failed COMMIT, so the connection is not left
                # inside a transaction for the thread's next request
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        finally:
            with suppress(sqlite3.Error):
                conn.execute("PRAGMA cell_size_check=OFF")

    def _failure(self, exc: sqlite3.Error | OSError | RunDamaged, what: str = "SQLite store") -> StoreError:
        if isinstance(exc, RunDamaged) or (isinstance(exc, sqlite3.Error) and is_damage(exc)):
            self._broken = f"{self.path} is damaged ({exc}): {REPAIR}"
            return StoreBroken(self._broken)
        if isinstance(exc, sqlite3.OperationalError | OSError):
            return StoreUnavailable(f"{what}: {exc}")
        return StoreError(f"{what}: {exc}")

    def _refuse_if_broken(self) -> None:
        if self._broken is not None:
            raise StoreBroken(self._broken)

    def _check_file(self, scheme: str) -> None:
        """Creates the tables in an empty file; otherwise checks the schema
        and reads the edges of each table (not the whole file: that is
        ``paradup verify``'s job, see README)."""
        problem: StoreError | None = None
        legacy = False
        try:
            with self._write() as conn:
                found = tables(conn)
                if not found:
                    for statement in SCHEMA:
                        conn.execute(statement)
                    conn.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [("format", FORMAT), ("scheme", scheme), ("next_ref", "1"), ("index_gen", "1")],
                    )
                    self._index = Index(self.path, False, self._resident)
                    return
                fmt = None
                if "meta" in found:
                    with suppress(sqlite3.OperationalError):
                        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
                        fmt = row[0] if row else None
                if fmt == FORMAT_2:
                    problem = schema_problem(conn, self.path, SCHEMA_2, FORMAT_2, scheme)
                    if problem is None:
                        probe(conn, with_runs=False)
                        upgrade(conn)
                else:
                    problem = schema_problem(conn, self.path, SCHEMA, FORMAT, scheme)
                    if problem is None:
                        probe(conn)
                        remove_orphans(conn, self.path)
                if problem is None:
                    legacy = conn.execute("SELECT 1 FROM bands LIMIT 1").fetchone() is not None
        except (sqlite3.Error, OSError, RunDamaged) as exc:
            raise self._failure(exc) from exc
        if problem is not None:
            raise problem
        self._index = Index(self.path, legacy, self._resident)

    # writes

    def _forget(self, conn: sqlite3.Connection, first: int, count: int) -> None:
        # The index entries stay until compaction drops them: the dead range
        # hides them from lookups meanwhile (refs are never reused).
        forget_refs(conn, first, first + count)
        conn.execute("DELETE FROM paragraphs WHERE ref >= ? AND ref < ?", (first, first + count))

    @_translated
    def put(self, documents: Sequence[NewDocument]) -> list[WriteStatus]:
        refuse_repeated_ids(documents)
        statuses: list[WriteStatus] = []
        with self._write() as conn:
            if sum(len(d.paragraphs) for d in documents) > 10000:
                conn.execute(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")
            try:
                self._put(conn, documents, statuses)
            finally:
                conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._compact()
        return statuses

    @_translated
    def put_packed(self, batch: PackedDocuments) -> list[WriteStatus]:
        """``put`` of documents in packed form (bulk ingest): the same rows
        and index entries, without an object per paragraph."""
        with self._write() as conn:
            conn.execute(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")
            try:
                statuses, documents, paragraphs = put_packed(conn, self.path, batch, self._forget)
                self._count(conn, documents, paragraphs)
            finally:
                conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._compact()
        return statuses

    def _compact(self) -> None:
        self._compaction.trigger(self.background_compaction)

    @_translated
    def compact(self, full: bool = False) -> int:
        """Waits for a background compaction, then runs every step still due
        (the CLI and tests); how many ran. ``full`` then merges the index
        into one run or two: a lookup probes each run, so after a bulk load
        that answers several times faster than the tiers' dozen runs."""
        self._compaction.wait()
        return self._compaction.now(full)

    def _put(
        self, conn: sqlite3.Connection, documents: Sequence[NewDocument], out: list[WriteStatus]
    ) -> None:
        next_ref = int(conn.execute("SELECT value FROM meta WHERE key = 'next_ref'").fetchone()[0])
        pending_keys: list[Keys] = []
        pending_refs: list[int] = []
        pending_sizes: list[int] = []
        rows: list[tuple[int, int, str]] = []
        delta_docs = delta_paras = 0
        for doc in documents:
            count = len(doc.paragraphs)
            if next_ref + count > MAX_REF:
                raise StoreError(f"{self.path} is full: paragraph refs are 32-bit")
            row = conn.execute("SELECT pk, digest, first, paragraphs FROM documents WHERE id = ?", (doc.id,))
            found = row.fetchone()
            if found is not None and found[1] == doc.digest:
                out.append("unchanged")
                continue
            metadata = json.dumps(doc.metadata, ensure_ascii=False, separators=(",", ":"))
            if found is None:
                cursor = conn.execute(
                    "INSERT INTO documents (id, digest, metadata, first, paragraphs) VALUES (?, ?, ?, ?, ?)",
                    (doc.id, doc.digest, metadata, next_ref, count),
                )
                pk = int(cursor.lastrowid or 0)
                out.append("created")
                delta_docs += 1
                delta_paras += count
            else:
                pk, old_first, old_count = int(found[0]), int(found[2]), int(found[3])
                # The old version is in the tables already (a batch never names
                # an id twice), so the batch's own rows stay pending until the end.
                self._forget(conn, old_first, old_count)
                conn.execute(
                    "UPDATE documents SET digest = ?, metadata = ?, first = ?, paragraphs = ? WHERE pk = ?",
                    (doc.digest, metadata, next_ref, count, pk),
                )
                out.append("updated")
                delta_paras += count - old_count
            for i, paragraph in enumerate(doc.paragraphs):
                rows.append((next_ref + i, pk, paragraph.text))
                if paragraph.keys.size:
                    pending_keys.append(paragraph.keys)
                    pending_refs.append(next_ref + i)
                    pending_sizes.append(paragraph.keys.size)
            next_ref += count
        conn.executemany("INSERT INTO paragraphs VALUES (?, ?, ?)", rows)
        if pending_keys:
            refs = np.repeat(np.asarray(pending_refs, dtype=np.uint64), pending_sizes)
            add_entries(conn, self.path, np.concatenate(pending_keys), refs)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'next_ref'", (str(next_ref),))
        self._count(conn, delta_docs, delta_paras)

    def _count(self, conn: sqlite3.Connection, documents: int, paragraphs: int) -> None:
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
            "SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
            [("documents", str(documents)), ("paragraphs", str(paragraphs))],
        )

    @_translated
    def delete(self, document_id: str) -> bool:
        with self._write() as conn:
            row = conn.execute(
                "SELECT pk, first, paragraphs FROM documents WHERE id = ?", (document_id,)
            ).fetchone()
            if row is None:
                return False
            self._forget(conn, int(row[1]), int(row[2]))
            conn.execute("DELETE FROM documents WHERE pk = ?", (row[0],))
            self._count(conn, -1, -int(row[2]))
        self._compact()
        return True

    # reads

    @_translated
    def get(self, document_id: str) -> StoredDocument | None:
        conn = self._conn
        row = conn.execute(
            "SELECT metadata, first, paragraphs FROM documents WHERE id = ?", (document_id,)
        ).fetchone()
        if row is None:
            return None
        first = int(row[1])
        texts = conn.execute(
            "SELECT text FROM paragraphs WHERE ref >= ? AND ref < ? ORDER BY ref",
            (first, first + int(row[2])),
        ).fetchall()
        return StoredDocument(document_id, json.loads(row[0]), [t[0] for t in texts])

    @_translated
    def lookup(self, keys: Keys) -> dict[int, list[int]]:
        return self._index.lookup(self._conn, keys)

    @_translated
    def hits(self, bands: Keys, postings: Keys, rule: CandidateRule) -> Hits:
        keys = asked(bands, postings)
        if self._index.legacy:  # bucketed rows too: as a lookup's dict
            return Hits.of(rule.hits(bands, self._index.lookup(self._conn, keys)))
        return rule.hits_found(bands, *self._index.found(self._conn, keys))

    def candidates(self, bands: Keys, postings: Keys, rule: CandidateRule) -> Candidates:
        # Two local queries cost no round trip: nothing to gain from one.
        return candidates_by_two_calls(self, bands, postings, rule)

    @_translated
    def paragraphs(self, refs: Sequence[int]) -> dict[int, StoredParagraph]:
        out: dict[int, StoredParagraph] = {}
        conn = self._conn
        for chunk in chunks(sorted(set(refs))):
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT p.ref, p.text, d.id, d.first, d.metadata FROM paragraphs p "
                f"JOIN documents d ON d.pk = p.doc WHERE p.ref IN ({marks})"
            )
            metadata: dict[str, LazyJson] = {}
            for ref, text, doc_id, first, meta in conn.execute(query, chunk).fetchall():
                if doc_id not in metadata:
                    metadata[doc_id] = LazyJson(meta)
                out[ref] = StoredParagraph(ref, doc_id, ref - first, text, metadata[doc_id])
        return out

    @_translated
    def first_paragraphs(self, prefix: str, limit: int) -> list[StoredDocument]:
        # A range on the unique index, not LIKE, so '%' or '_' in ids are literal.
        rows = self._conn.execute(
            "SELECT d.id, d.metadata, p.text FROM documents d"
            " LEFT JOIN paragraphs p ON d.paragraphs > 0 AND p.ref = d.first"
            " WHERE d.id >= ? AND d.id < ? ORDER BY d.id LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        return [StoredDocument(i, json.loads(meta), [] if text is None else [text]) for i, meta, text in rows]

    @_translated
    def stats(self) -> StoreStats:
        rows = dict(
            self._conn.execute("SELECT key, value FROM meta WHERE key IN ('documents', 'paragraphs')")
        )
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return StoreStats(
            int(rows.get("documents", 0)),
            int(rows.get("paragraphs", 0)),
            {"backend": "sqlite", "path": str(self.path), "bytes_on_disk": size}
            | ({"resident": self._resident.report()} if self._resident.index else {}),
        )

    def ping(self) -> None:
        self._refuse_if_broken()
        try:
            self._conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.Error as exc:
            raise self._failure(exc, f"SQLite store {self.path} is unavailable") from exc

    def close(self) -> None:
        # A merge interrupted by the process's exit would be redone by the
        # next writer: waiting leaves the index compact for the next start.
        self._compaction.wait()
        self._resident.close()
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
        self._compaction.forget_connection()


__all__ = ["FORMAT", "FORMAT_2", "SqliteStore", "StoreFormatError"]
