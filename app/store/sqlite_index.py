"""The SQLite store's index of keys, LSM-style: SQLite is the write-ahead log
and holds recent entries, immutable sorted runs (``sqlite_runs``) hold the rest.

- A small write (a CMS saving an article) adds one ``segments`` row: its
  entries sorted by key, in the write's transaction.
- A large write (a bulk batch) writes its entries as a new run file, listed
  in ``runs`` in the write's transaction.
- Compaction (after a write commits, one process at a time) turns the
  segments into a run once they hold ``FLUSH_ENTRIES``, and merges
  ``FANIN`` runs of one size tier into one: at most ``FANIN - 1`` runs per
  tier, a handful of tiers at any archive size, so a lookup reads a bounded
  number of runs, each at a cost that does not grow with its size.
- Forgetting a document adds its ref range to ``dead``: lookups drop those
  refs and compaction drops their entries. Refs are never reused (the
  ``next_ref`` high-water mark), so a stale entry can never name a newer
  paragraph. A dead range is retired once no run or segment can hold it.

Every reader caches what it has mapped and read, under the ``index_gen``
counter in ``meta`` that every index change bumps in its transaction: a
lookup costs one primary-key read when nothing changed, so several
workers see each other's writes at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.store.distinct import distinct, listed_by_key, run_starts, runs
from app.store.resident import Resident
from app.store.sqlite_bands import lookup_entries
from app.store.sqlite_driver import sqlite3
from app.store.sqlite_kernels import touch_pages
from app.store.sqlite_runs import (
    CODE_BITS,
    DeadRefs,
    RunDamaged,
    RunFile,
    codes_of,
    fsync_directory,
    run_path,
    write_run,
)

U64 = npt.NDArray[np.uint64]
Keys = npt.NDArray[np.int64]
Positions = npt.NDArray[np.intp]

# Segments become a run at this many entries (~2,500 paragraphs): small
# enough that a reader re-sorts them in a few ms, large enough that runs
# are few. A write of at least this many entries becomes a run directly.
FLUSH_ENTRIES = 1 << 17
FANIN = 8
# Runs a lookup probes at most, once small ones are merged (sqlite_compact).
MAX_RUNS = 4

INDEX_SCHEMA = (
    "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, entries INTEGER NOT NULL, "
    "lo INTEGER NOT NULL, hi INTEGER NOT NULL)",
    "CREATE TABLE segments (id INTEGER PRIMARY KEY AUTOINCREMENT, entries INTEGER NOT NULL, "
    "lo INTEGER NOT NULL, hi INTEGER NOT NULL, data BLOB NOT NULL)",
    'CREATE TABLE dead (first INTEGER PRIMARY KEY, "end" INTEGER NOT NULL)',
)

_BUMP = "INSERT INTO meta VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"


def tier(entries: int) -> int:
    """Size tier: runs within a factor FANIN of each other share one."""
    level, size = 0, FLUSH_ENTRIES * FANIN
    while entries >= size:
        level, size = level + 1, size * FANIN
    return level


def bump(conn: sqlite3.Connection, dead: bool = False) -> None:
    """Every index change bumps ``index_gen``; a change of the dead ranges
    also ``dead_gen``, so readers re-read those only then."""
    conn.execute(_BUMP, ("index_gen",))
    if dead:
        conn.execute(_BUMP, ("dead_gen",))


def _segment_blob(keys: Keys, refs: U64) -> bytes:
    order = np.argsort(keys, kind="stable")
    return keys[order].tobytes() + refs[order].astype(np.uint32).tobytes()


def segment_arrays(blob: bytes, entries: int) -> tuple[Keys, U64]:
    keys = np.frombuffer(blob, dtype=np.int64, count=entries)
    refs = np.frombuffer(blob, dtype=np.uint32, offset=8 * entries).astype(np.uint64)
    return keys, refs


def add_entries(conn: sqlite3.Connection, database: Path, keys: Keys, refs: U64) -> None:
    """Index a write's entries, inside its transaction."""
    if not keys.size:
        return
    lo, hi = int(refs.min()), int(refs.max())
    if keys.size >= FLUSH_ENTRIES:
        cursor = conn.execute("INSERT INTO runs (entries, lo, hi) VALUES (0, ?, ?)", (lo, hi))
        run_id = int(cursor.lastrowid or 0)
        path = run_path(database, run_id)
        temporary = path.with_name(path.name + ".tmp")
        entries = write_run(temporary, keys, refs)
        os.replace(temporary, path)
        fsync_directory(path.parent)
        conn.execute("UPDATE runs SET entries = ? WHERE id = ?", (entries, run_id))
    else:
        conn.execute(
            "INSERT INTO segments (entries, lo, hi, data) VALUES (?, ?, ?, ?)",
            (keys.size, lo, hi, _segment_blob(keys, refs)),
        )
    bump(conn)


def forget_refs(conn: sqlite3.Connection, first: int, end: int) -> None:
    if end > first:
        conn.execute("INSERT INTO dead VALUES (?, ?)", (first, end))
        bump(conn, dead=True)


def _map_pages(runs: Sequence[RunFile]) -> None:
    for run in runs:
        touch_pages(run.directory.view(np.uint8))
        touch_pages(run.data)


class _Moved(Exception):
    """A run listed in the reader's snapshot was merged away meanwhile."""


@dataclass
class View:
    """One generation of the index as a reader sees it."""

    generation: str | None
    runs: dict[int, RunFile] = field(default_factory=dict)
    segments: dict[int, tuple[Keys, U64]] = field(default_factory=dict)
    recent_keys: Keys = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    recent_refs: U64 = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    dead: DeadRefs = field(default_factory=lambda: DeadRefs([]))
    dead_generation: str | None = None


class Index:
    """Reads (cached per generation) and compaction of one store's index."""

    def __init__(self, database: Path, legacy: bool, resident: Resident | None = None) -> None:
        self.database = database
        self.resident = resident or Resident("off")
        # A store written before runs existed keeps its bucketed ``bands``
        # rows, read as before; new entries never go there.
        self.legacy = legacy
        self._view = View(None)
        self._lock = threading.Lock()

    def refresh(self, conn: sqlite3.Connection) -> View:
        """The index's current generation, its runs opened."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'index_gen'").fetchone()
        generation = None if row is None else str(row[0])
        view = self._view
        if generation == view.generation and view.generation is not None:
            return view
        with self._lock:
            if self._view.generation == generation and generation is not None:
                return self._view
            while True:
                try:
                    self._view = self._load(conn, self._view)
                    return self._view
                except _Moved:
                    # A compaction retired a run between our snapshot and
                    # its opening: a newer snapshot lists its replacement.
                    continue

    def _load(self, conn: sqlite3.Connection, old: View) -> View:
        conn.execute("BEGIN")  # one snapshot of the manifest
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'index_gen'").fetchone()
            generation = None if row is None else str(row[0])
            run_ids = [r[0] for r in conn.execute("SELECT id FROM runs WHERE entries > 0")]
            segment_ids = [r[0] for r in conn.execute("SELECT id FROM segments")]
            segments = {i: old.segments[i] for i in segment_ids if i in old.segments}
            missing = [i for i in segment_ids if i not in segments]
            for i in range(0, len(missing), 500):
                chunk = missing[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for sid, entries, blob in conn.execute(
                    f"SELECT id, entries, data FROM segments WHERE id IN ({marks})", chunk
                ):
                    segments[sid] = segment_arrays(blob, entries)
            row = conn.execute("SELECT value FROM meta WHERE key = 'dead_gen'").fetchone()
            dead_generation = None if row is None else str(row[0])
            if dead_generation == old.dead_generation and old.generation is not None:
                dead = old.dead
            else:
                dead = DeadRefs(conn.execute('SELECT first, "end" FROM dead').fetchall())
        finally:
            conn.execute("COMMIT")
        runs: dict[int, RunFile] = {}
        for i in run_ids:
            try:
                runs[i] = old.runs[i] if i in old.runs else RunFile(run_path(self.database, i))
            except RunDamaged:
                row = conn.execute("SELECT 1 FROM runs WHERE id = ?", (i,)).fetchone()
                if row is None:
                    raise _Moved from None
                raise
        fresh = [run for i, run in runs.items() if i not in old.runs]
        if self.resident.index:
            # Locking reads every page in too (and the database's growth
            # since the last generation, with ``all``).
            for run in fresh:
                self.resident.lock_map(run.pages)
            self.resident.lock_file(self.database)
        elif fresh:
            threading.Thread(target=_map_pages, args=(fresh,), name="paradup-map-runs", daemon=True).start()
        view = View(generation, runs, segments, dead=dead, dead_generation=dead_generation)
        if segments.keys() == old.segments.keys():
            view.recent_keys, view.recent_refs = old.recent_keys, old.recent_refs
        elif segments:
            keys = np.concatenate([s[0] for s in segments.values()])
            refs = np.concatenate([s[1] for s in segments.values()])
            order = np.argsort(keys, kind="stable")
            view.recent_keys, view.recent_refs = keys[order], refs[order]
        return view

    def lookup(self, conn: sqlite3.Connection, keys: Keys) -> dict[int, list[int]]:
        unique, owners, refs = self.found(conn, keys)
        result = _by_key(unique, owners, refs)
        if self.legacy and unique.size:
            for key, found_refs in self.legacy_entries(conn, unique).items():
                result.setdefault(key, []).extend(found_refs)
        return result

    def found(self, conn: sqlite3.Connection, keys: Keys) -> tuple[Keys, Positions, U64]:
        """The live entries under ``keys`` in the runs and segments, as
        arrays: the distinct keys, then per entry its key's position among
        them and its ref (a legacy store's ``bands`` rows apart)."""
        unique = distinct(keys)
        nothing = np.empty(0, dtype=np.intp), np.empty(0, dtype=np.uint64)
        if not unique.size:
            return unique, *nothing
        owners: list[Positions] = []
        refs: list[U64] = []
        view = self.refresh(conn)
        if view.recent_keys.size:
            starts = np.searchsorted(view.recent_keys, unique, side="left")
            ends = np.searchsorted(view.recent_keys, unique, side="right")
            counts = ends - starts
            if counts.any():
                positions = np.repeat(ends - counts.cumsum(), counts) + np.arange(counts.sum())
                owners.append(np.repeat(np.arange(unique.size), counts))
                refs.append(view.recent_refs[positions])
        if view.runs:
            code_of_key = codes_of(unique)
            perm = np.argsort(code_of_key, kind="stable")
            ordered = code_of_key[perm]
            first, counts = runs(ordered)
            codes = ordered[first]
            clash = codes.size != unique.size
            for run in view.runs.values():
                found, run_refs = run.lookup(codes)
                if not found.size:
                    continue
                at = found.astype(np.int64)
                if clash:  # two asked keys share a 40-bit code: its entries answer both
                    c = counts[at]
                    offsets = np.arange(c.sum()) - np.repeat(c.cumsum() - c, c)
                    at_keys = np.repeat(first[at], c) + offsets
                    owners.append(perm[at_keys])
                    refs.append(np.repeat(run_refs, c))
                else:
                    owners.append(perm[at])
                    refs.append(run_refs)
        if not owners:
            return unique, *nothing
        all_owners = np.concatenate(owners)
        all_refs = np.concatenate(refs)
        alive = view.dead.alive(all_refs)
        return unique, all_owners[alive], all_refs[alive]

    def legacy_entries(self, conn: sqlite3.Connection, unique: Keys) -> dict[int, list[int]]:
        """A legacy store's live refs under each of ``unique`` in its ``bands`` rows."""
        dead = self._view.dead
        out: dict[int, list[int]] = {}
        for key, found_refs in lookup_entries(conn, unique).items():
            live = np.asarray(found_refs, dtype=np.uint64)
            kept = live[dead.alive(live)].tolist()
            if kept:
                out[key] = kept
        return out

    @property
    def view(self) -> View:
        """The generation last loaded (compaction reuses its mapped runs)."""
        return self._view


def _by_key(keys: Keys, owners: Positions, refs: U64) -> dict[int, list[int]]:
    """Each key's refs, in the order found: ``owners`` holds the position in
    ``keys`` of each ref's key (~400 refs a check at 10M paragraphs)."""
    if not owners.size:
        return {}
    order = np.argsort(owners, kind="stable")
    owners_in_order = owners[order]
    starts = run_starts(owners_in_order)
    return listed_by_key(keys[owners_in_order[starts]], np.append(starts, owners.size), refs[order])


__all__ = [
    "CODE_BITS",
    "FANIN",
    "FLUSH_ENTRIES",
    "INDEX_SCHEMA",
    "MAX_RUNS",
    "Index",
    "add_entries",
    "forget_refs",
    "fsync_directory",
    "segment_arrays",
]
