"""Compaction of the SQLite store's index (``sqlite_index``): the recent
segments into a run, FANIN runs of one size tier into one, the smallest
runs together beyond MAX_RUNS, and on request (after a bulk load) the whole
index into one run.

A merge reads immutable runs and writes its output under a temporary name
without SQLite's write lock, which it takes only to list the new run and
retire its inputs in one transaction (``_swap``); one process compacts at a
time (a ``flock`` on ``<db>.merge-lock``). After a write, compaction runs in
a background thread (``Background``): a merge at 10M paragraphs takes tens
of seconds no request should wait for, and the kernels release the GIL.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# The thresholds are read from the module at each use (tests lower them).
from app.store import sqlite_index as index_module
from app.store.sqlite_driver import sqlite3
from app.store.sqlite_index import U64, Index, Keys, bump, segment_arrays
from app.store.sqlite_runs import (
    MAX_ENTRIES,
    DeadRefs,
    RunDamaged,
    RunFile,
    RunWriter,
    codes_of,
    merge,
    run_files,
    run_path,
)

log = logging.getLogger(__name__)


class Compaction:
    """The compaction steps of one store's index."""

    def __init__(self, index: Index) -> None:
        self.index = index

    @contextmanager
    def _merge_lock(self) -> Iterator[bool]:
        """One compaction at a time across processes; False when another holds it."""
        with open(self.index.database.with_name(self.index.database.name + ".merge-lock"), "a+b") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def compact(self, conn: sqlite3.Connection, full: bool = False) -> int:
        """Runs every compaction step due (none if another process is
        compacting); returns how many it ran. ``full``: then merges the index
        into one run, or two (``_whole``), as after a bulk load.
        Merges run outside SQLite's write lock, which is taken only to swap
        the manifest."""
        steps = 0
        with self._merge_lock() as mine:
            while mine and self._step(conn, False):
                steps += 1
            if mine and full and self._step(conn, True):
                steps += 1
        return steps

    def _step(self, conn: sqlite3.Connection, full: bool) -> bool:
        conn.execute("BEGIN")
        try:
            runs = conn.execute("SELECT id, entries, lo, hi FROM runs WHERE entries > 0").fetchall()
            segments = conn.execute("SELECT id, entries, lo, hi FROM segments").fetchall()
            job_runs = _whole(runs, segments) if full else self._due(runs, segments)
            if job_runs is None:
                return False
            flush = full or sum(s[1] for s in segments) >= index_module.FLUSH_ENTRIES
            job_segments = segments if flush else []
            extra_keys: list[Keys] = []
            extra_refs: list[U64] = []
            for sid, entries, _, _ in job_segments:
                (blob,) = conn.execute("SELECT data FROM segments WHERE id = ?", (sid,)).fetchone()
                keys, refs = segment_arrays(blob, entries)
                extra_keys.append(keys)
                extra_refs.append(refs)
            dead_rows = conn.execute('SELECT first, "end" FROM dead').fetchall()
        finally:
            conn.execute("COMMIT")
        inputs = [
            self.index.view.runs.get(r[0]) or RunFile(run_path(self.index.database, r[0])) for r in job_runs
        ]
        parts = [*job_runs, *job_segments]
        lo, hi = min(p[2] for p in parts), max(p[3] for p in parts)
        codes = codes_of(np.concatenate(extra_keys)) if extra_keys else np.empty(0, dtype=np.uint64)
        refs = np.concatenate(extra_refs) if extra_refs else np.empty(0, dtype=np.uint64)
        temporary = self.index.database.with_name(f"{self.index.database.name}.run-tmp-{os.getpid()}")
        writer = RunWriter(temporary, sum(p[1] for p in parts), lo, hi)
        try:
            merge(inputs, writer.sorted_all(codes, refs), DeadRefs(dead_rows), writer)
            writer.finish()
        except BaseException:
            writer.abort()
            raise
        self._swap(conn, temporary, writer.entries, lo, hi, job_runs, job_segments, dead_rows)
        return True

    @staticmethod
    def _due(
        runs: list[tuple[int, int, int, int]], segments: list[tuple[int, int, int, int]]
    ) -> list[tuple[int, int, int, int]] | None:
        """The runs to merge next ([] with the segments: a flush), None when nothing is due."""
        if sum(s[1] for s in segments) >= index_module.FLUSH_ENTRIES:
            return []
        tiers: dict[int, list[tuple[int, int, int, int]]] = {}
        for run in runs:
            tiers.setdefault(index_module.tier(run[1]), []).append(run)
        for level in sorted(tiers):
            group = tiers[level]
            if len(group) >= index_module.FANIN and sum(r[1] for r in group) <= MAX_ENTRIES:
                return group
        return _smallest(runs)

    def _swap(
        self,
        conn: sqlite3.Connection,
        temporary: Path,
        entries: int,
        lo: int,
        hi: int,
        job_runs: Sequence[tuple[int, int, int, int]],
        job_segments: Sequence[tuple[int, int, int, int]],
        dead_rows: Sequence[tuple[int, int]],
    ) -> None:
        """Lists the new run and retires its inputs, in one transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            new_id = 0
            if entries:
                listed = (entries, lo, hi)
                cursor = conn.execute("INSERT INTO runs (entries, lo, hi) VALUES (?, ?, ?)", listed)
                new_id = int(cursor.lastrowid or 0)
                path = run_path(self.index.database, new_id)
                os.replace(temporary, path)
                index_module.fsync_directory(path.parent)
            else:  # every entry was dead
                temporary.unlink()
            conn.executemany("DELETE FROM runs WHERE id = ?", [(r[0],) for r in job_runs])
            conn.executemany("DELETE FROM segments WHERE id = ?", [(s[0],) for s in job_segments])
            retired = self._retire(conn, new_id, dead_rows)
            bump(conn, dead=retired)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            temporary.unlink(missing_ok=True)
            raise
        for run in job_runs:
            run_path(self.index.database, run[0]).unlink(missing_ok=True)

    def _retire(self, conn: sqlite3.Connection, new_id: int, dead_rows: Sequence[tuple[int, int]]) -> bool:
        """Drops the dead ranges the merge applied that no other run,
        segment or legacy row can still hold; whether it dropped any."""
        if not dead_rows:
            return False
        holders = conn.execute(
            "SELECT lo, hi FROM runs WHERE id != ? UNION ALL SELECT lo, hi FROM segments", (new_id,)
        ).fetchall()
        legacy_end = 0
        if self.index.legacy:
            row = conn.execute("SELECT value FROM meta WHERE key = 'legacy_end'").fetchone()
            legacy_end = int(row[0]) if row else 1 << 62
        gone = [
            (first,)
            for first, end in dead_rows
            if first >= legacy_end and not any(lo <= end - 1 and hi >= first for lo, hi in holders)
        ]
        conn.executemany("DELETE FROM dead WHERE first = ?", gone)
        return bool(gone)


def _smallest(runs: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]] | None:
    """Beyond ``MAX_RUNS`` runs, the smallest merged down to that count, when
    together they hold at most a ``FANIN``-th of the largest: each run costs
    every lookup a probe, and the tiers alone leave up to ``FANIN - 1`` runs
    per tier (small writes after a bulk load pile up there). The size guard
    leaves a bulk load's equal runs to the tiers, which rewrite less."""
    if len(runs) <= index_module.MAX_RUNS:
        return None
    ranked = sorted(runs, key=lambda r: r[1])
    job = ranked[: len(runs) - index_module.MAX_RUNS + 1]
    if sum(r[1] for r in job) * index_module.FANIN > ranked[-1][1]:
        return None
    return job


def _whole(
    runs: list[tuple[int, int, int, int]], segments: list[tuple[int, int, int, int]]
) -> list[tuple[int, int, int, int]] | None:
    """The runs a full compaction merges (with every segment): all of them,
    unless the others hold less than a ``FANIN``-th of the largest, which is
    then left alone (a small load into a large archive need not rewrite it:
    two runs remain); None when that leaves nothing to merge."""
    ranked = sorted(runs, key=lambda r: r[1])
    rest = sum(r[1] for r in ranked[:-1]) + sum(s[1] for s in segments)
    if ranked and rest * index_module.FANIN < ranked[-1][1]:
        ranked.pop()
    job: list[tuple[int, int, int, int]] = []
    total = sum(s[1] for s in segments)
    for run in ranked:
        if total + run[1] > MAX_ENTRIES:  # one run file's directory holds no more
            break
        job.append(run)
        total += run[1]
    return job if len(job) + (1 if segments else 0) >= 2 else None


def remove_orphans(conn: sqlite3.Connection, database: Path) -> None:
    """Run files no committed manifest lists: left by a crash between a
    file's rename and its transaction's commit, or after a merge's commit.
    Called holding SQLite's write lock, so no writer is mid-way."""
    listed = {run_path(database, r[0]).name for r in conn.execute("SELECT id FROM runs")}
    merging = _merge_running(database)
    for path in run_files(database.parent, database.name):
        if path.name in listed:
            continue
        if "run-tmp-" in path.name and merging:
            continue
        path.unlink(missing_ok=True)


def _merge_running(database: Path) -> bool:
    lock = database.with_name(database.name + ".merge-lock")
    if not lock.exists():
        return False
    with open(lock, "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return False


class Background:
    """Runs compaction after writes, one thread at a time, on a connection
    of its own; ``wait`` joins the running thread."""

    def __init__(self, index: Index, connect: Callable[[], sqlite3.Connection]) -> None:
        self._compaction = Compaction(index)
        self._connect = connect
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._again = False
        self._conn: sqlite3.Connection | None = None
        self._conn_lock = threading.Lock()

    def trigger(self, background: bool) -> None:
        if not background:
            self._quietly()
            return
        with self._lock:
            self._again = True
            if self._thread is None:
                thread = threading.Thread(target=self._loop, name="paradup-compact", daemon=True)
                self._thread = thread
                thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False
            self._quietly()

    def _quietly(self) -> None:
        """A failure (a full disk) loses nothing and must not fail a write
        already acknowledged: the next write tries again."""
        try:
            self.now()
        except (sqlite3.Error, OSError, RunDamaged) as exc:
            log.warning("index compaction of %s failed: %s", self._compaction.index.database, exc)

    def now(self, full: bool = False) -> int:
        with self._conn_lock:
            if self._conn is None:
                self._conn = self._connect()
            return self._compaction.compact(self._conn, full)

    def wait(self) -> None:
        with self._lock:
            running = self._thread
        if running is not None:
            running.join()

    def forget_connection(self) -> None:
        """The store closed every connection, this one included."""
        with self._conn_lock:
            self._conn = None
