"""The SQLite store's band index: packed entries in bucket rows.

A 64-bit band key splits into a bucket (its low ``BUCKET_BITS``, the rowid
of a ``bands`` row) and a 16-bit tag (the bits above). A row's blob is the
concatenation of 6-byte entries ``(tag: u16, ref: u32)``, little-endian.

Writes are grouped by bucket so that a batch rewrites each touched row
once, in rowid order; an addition is an append done by SQLite itself
(``entries || new``), so bulk ingest never reads the index back into Python.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from app.store.distinct import runs
from app.store.sqlite_driver import sqlite3

# 2^20 rows: about 50 entries (300 bytes) per row at a million paragraphs
# of 49 bands, small enough for one page, large enough that per-row
# overhead (~8 bytes) stays a small share.
BUCKET_BITS = 20
TAG_BITS = 16
ENTRY = np.dtype([("tag", "<u2"), ("ref", "<u4")])
_BUCKET_MASK = np.uint64((1 << BUCKET_BITS) - 1)
_TAG_MASK = np.uint64((1 << TAG_BITS) - 1)
_SHIFT = np.uint64(BUCKET_BITS)
# SQLite's default limit on bound parameters is 32766; stay well below.
CHUNK = 10000
# A batch touching more than this share of the existing rows rewrites the table.
REBUILD_SHARE = 0.3

_APPEND = (
    "INSERT INTO bands (bucket, entries) VALUES (?, ?) "
    "ON CONFLICT(bucket) DO UPDATE SET entries = CAST(entries || excluded.entries AS BLOB)"
)

UInts = npt.NDArray[np.uint64]


def split_keys(keys: npt.NDArray[np.int64]) -> tuple[UInts, UInts]:
    """(bucket, tag) of each key."""
    raw = keys.view(np.uint64)
    return raw & _BUCKET_MASK, (raw >> _SHIFT) & _TAG_MASK


def _bucket_runs(sorted_buckets: UInts) -> tuple[list[int], list[int], list[int]]:
    """Each distinct bucket of a sorted array with the [start, end) of its run."""
    starts, lengths = runs(sorted_buckets)
    return sorted_buckets[starts].tolist(), starts.tolist(), (starts + lengths).tolist()


def chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    """Chunks of at most CHUNK values, one statement's worth of parameters."""
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


def _in_chunks(conn: sqlite3.Connection, buckets: list[int]) -> list[tuple[int, bytes]]:
    rows: list[tuple[int, bytes]] = []
    for chunk in chunks(buckets):
        marks = ",".join("?" * len(chunk))
        # fetchall: one C call instead of a Python step per row
        rows += conn.execute(f"SELECT bucket, entries FROM bands WHERE bucket IN ({marks})", chunk).fetchall()
    return rows


class Additions:
    """Entries collected over a batch, written in one pass."""

    def __init__(self) -> None:
        self._keys: list[npt.NDArray[np.int64]] = []
        self._refs: list[int] = []
        self._sizes: list[int] = []

    def add(self, keys: npt.NDArray[np.int64], ref: int) -> None:
        if keys.size:
            self._keys.append(keys)
            self._refs.append(ref)
            self._sizes.append(keys.size)

    def apply(self, conn: sqlite3.Connection) -> None:
        if not self._keys:
            return
        buckets, tags = split_keys(np.concatenate(self._keys))
        refs = np.repeat(np.asarray(self._refs, dtype=np.uint32), self._sizes)
        self._keys, self._refs, self._sizes = [], [], []
        order = np.argsort(buckets)  # order within a bucket does not matter
        entries = np.empty(order.size, dtype=ENTRY)
        entries["tag"] = tags[order]
        entries["ref"] = refs[order]
        data = entries.tobytes()
        width = ENTRY.itemsize
        ids, starts, ends = _bucket_runs(buckets[order])
        # Against the table's capacity, not a count(*) that would read the
        # whole index on every write: a batch touching a good share of all
        # possible rows is cheaper to merge in one rewrite.
        if len(ids) < REBUILD_SHARE * (1 << BUCKET_BITS):
            conn.executemany(
                _APPEND, ((b, data[s * width : e * width]) for b, s, e in zip(ids, starts, ends, strict=True))
            )
            return
        # Most rows change: appending to an emptied B-tree in rowid order is
        # several times cheaper than growing each row in place (every grown
        # row rebalances its page).
        old = dict(conn.execute("SELECT bucket, entries FROM bands"))
        conn.execute("DELETE FROM bands")
        merged = []
        for b, s, e in zip(ids, starts, ends, strict=True):
            merged.append((b, old.pop(b, b"") + data[s * width : e * width]))
        merged.extend(old.items())
        merged.sort()
        conn.executemany("INSERT INTO bands (bucket, entries) VALUES (?, ?)", merged)


def remove_entries(
    conn: sqlite3.Connection, keys: npt.NDArray[np.int64], refs: npt.NDArray[np.uint32]
) -> None:
    """Delete the entries (key, ref) from their rows (rare: updates and deletes)."""
    buckets, tags = split_keys(keys)
    gone = set(zip(buckets.tolist(), tags.tolist(), refs.tolist(), strict=True))
    rewrite: list[tuple[bytes, int]] = []
    empty: list[tuple[int]] = []
    for bucket, blob in _in_chunks(conn, sorted(set(buckets.tolist()))):
        entries = np.frombuffer(blob, dtype=ENTRY)
        keep = np.fromiter(
            (
                (bucket, t, r) not in gone
                for t, r in zip(entries["tag"].tolist(), entries["ref"].tolist(), strict=True)
            ),
            dtype=bool,
            count=entries.size,
        )
        if keep.all():
            continue
        if keep.any():
            rewrite.append((entries[keep].tobytes(), bucket))
        else:
            empty.append((bucket,))
    conn.executemany("UPDATE bands SET entries = ? WHERE bucket = ?", rewrite)
    conn.executemany("DELETE FROM bands WHERE bucket = ?", empty)


def lookup_entries(conn: sqlite3.Connection, keys: npt.NDArray[np.int64]) -> dict[int, list[int]]:
    """Refs whose entries match each key's bucket and tag."""
    unique = np.unique(keys)
    if not unique.size:
        return {}
    buckets, tags = split_keys(unique)
    rows = _in_chunks(conn, np.unique(buckets).tolist())
    if not rows:
        return {}
    blobs = [r[1] for r in rows]
    entries = np.frombuffer(b"".join(blobs), dtype=ENTRY)
    owner = np.repeat(
        np.array([r[0] for r in rows], dtype=np.uint64), [len(b) // ENTRY.itemsize for b in blobs]
    )
    found_codes = (owner << np.uint64(TAG_BITS)) | entries["tag"].astype(np.uint64)
    wanted = (buckets << np.uint64(TAG_BITS)) | tags
    order = np.argsort(wanted)
    ranked = wanted[order]
    at = np.minimum(np.searchsorted(ranked, found_codes), ranked.size - 1)
    hit = ranked[at] == found_codes
    found: dict[int, list[int]] = {}
    all_keys = unique.tolist()
    clash = bool(np.any(ranked[1:] == ranked[:-1]))
    for position, ref in zip(at[hit].tolist(), entries["ref"][hit].tolist(), strict=True):
        if clash:  # two asked keys share bucket and tag: the entry answers both
            code = int(ranked[position])
            for k in np.flatnonzero(wanted == code).tolist():
                found.setdefault(all_keys[k], []).append(ref)
        else:
            found.setdefault(all_keys[int(order[position])], []).append(ref)
    return found
