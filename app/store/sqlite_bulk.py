"""The SQLite store's write of a packed batch (``PackedDocuments``, bulk
ingest): the rows and index entries ``SqliteStore.put`` writes for the same
documents, built from arrays: one query per 500 ids to find the stored
versions, one ``executemany`` per table, the index entries' refs by one
``np.repeat``, no Python object per paragraph."""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress
from pathlib import Path

import numpy as np

from app.store.base import StoreError, WriteStatus, refuse_repeated
from app.store.packed import PackedDocuments
from app.store.sqlite_driver import sqlite3
from app.store.sqlite_index import add_entries
from app.store.sqlite_schema import MAX_REF

# Ids per query when finding the stored versions: under SQLite's limit of
# bound parameters, large enough that the queries are few.
IDS_PER_QUERY = 500

Forget = Callable[[sqlite3.Connection, int, int], None]


def _stored(conn: sqlite3.Connection, ids: list[str]) -> dict[str, tuple[int, str, int, int]]:
    found: dict[str, tuple[int, str, int, int]] = {}
    for at in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[at : at + IDS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT id, pk, digest, first, paragraphs FROM documents WHERE id IN ({marks})"
        for doc_id, pk, digest, first, count in conn.execute(query, chunk):
            found[doc_id] = (int(pk), digest, int(first), int(count))
    return found


def put_packed(
    conn: sqlite3.Connection, database: Path, batch: PackedDocuments, forget: Forget
) -> tuple[list[WriteStatus], int, int]:
    """Writes ``batch`` inside the caller's transaction; returns the statuses
    and the change in documents and paragraphs (for the counts in ``meta``).
    A created document gets the primary key SQLite would give it (the
    largest plus one), so the tables are those ``put`` leaves."""
    ids = batch.ids
    refuse_repeated(ids)
    next_ref = int(conn.execute("SELECT value FROM meta WHERE key = 'next_ref'").fetchone()[0])
    first_ref = next_ref
    (next_pk,) = conn.execute("SELECT coalesce(max(pk), 0) + 1 FROM documents").fetchone()
    stored = _stored(conn, ids)
    counts = batch.counts.tolist()
    kept = np.ones(len(ids), dtype=bool)
    pks = np.zeros(len(ids), dtype=np.int64)
    statuses: list[WriteStatus] = []
    created: list[tuple[int, str, str, str, int, int]] = []
    delta_docs = delta_paras = 0
    for i, (doc_id, digest, count) in enumerate(zip(ids, batch.digests, counts, strict=True)):
        if next_ref + count > MAX_REF:
            raise StoreError(f"{database} is full: paragraph refs are 32-bit")
        old = stored.get(doc_id)
        if old is not None and old[1] == digest:
            statuses.append("unchanged")
            kept[i] = False
            continue
        if old is None:
            pk = next_pk
            next_pk += 1
            created.append((pk, doc_id, digest, batch.metadata[i], next_ref, count))
            statuses.append("created")
            delta_docs += 1
            delta_paras += count
        else:
            pk, _, old_first, old_count = old
            forget(conn, old_first, old_count)
            conn.execute(
                "UPDATE documents SET digest = ?, metadata = ?, first = ?, paragraphs = ? WHERE pk = ?",
                (digest, batch.metadata[i], next_ref, count, pk),
            )
            statuses.append("updated")
            delta_paras += count - old_count
        pks[i] = pk
        next_ref += count
    conn.executemany(
        "INSERT INTO documents (pk, id, digest, metadata, first, paragraphs) VALUES (?, ?, ?, ?, ?, ?)",
        created,
    )
    texts = batch.texts
    sizes = batch.sizes
    keys = batch.keys
    if not kept.all():
        by_paragraph = np.repeat(kept, batch.counts)
        texts = list(compress(texts, by_paragraph.tolist()))
        keys = keys[np.repeat(by_paragraph, sizes)]
        sizes = sizes[by_paragraph]
        pks, counts_kept = pks[kept], batch.counts[kept]
    else:
        counts_kept = batch.counts
    refs = np.arange(first_ref, next_ref, dtype=np.int64)
    conn.executemany(
        "INSERT INTO paragraphs VALUES (?, ?, ?)",
        zip(refs.tolist(), np.repeat(pks, counts_kept).tolist(), texts, strict=True),
    )
    if keys.size:
        add_entries(conn, database, keys, np.repeat(refs.astype(np.uint64), sizes))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'next_ref'", (str(next_ref),))
    return statuses, delta_docs, delta_paras
