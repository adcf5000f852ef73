"""Telling a damaged SQLite store from a busy one, and checking its file.

A locked, busy or full database fails for now and the same request may
succeed later (``StoreUnavailable``). A corrupted file, a missing table or a
foreign schema will fail every time: the store switches to a failed state
(``StoreBroken``) that refuses reads and writes until an operator acts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import closing, suppress
from pathlib import Path

from app.store.base import SchemeMismatch, StoreBroken, StoreError
from app.store.sqlite_driver import sqlite3
from app.store.sqlite_runs import RunDamaged, RunFile, run_path

# Result codes of a damaged file (the low byte: extended codes add flags above).
DAMAGED_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
# A table or column dropped under a running store is reported as a plain
# SQLITE_ERROR: recognised by its message.
DAMAGED_MESSAGES = ("malformed", "not a database", "no such table", "no such column")
REPAIR = "run `paradup verify`, then restore a backup or re-ingest into a new store file"


class StoreFormatError(StoreBroken):
    """The file was written by another version of the SQLite store."""


def is_damage(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in DAMAGED_CODES:
        return True
    return any(message in str(exc) for message in DAMAGED_MESSAGES)


def tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return sorted(row[0] for row in rows)


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM pragma_table_info(?)", (table,))]


def expected_columns(schema: Sequence[str]) -> dict[str, list[str]]:
    """Each table of ``schema`` with its columns, as SQLite itself reads them."""
    with closing(sqlite3.connect(":memory:")) as conn:
        for statement in schema:
            conn.execute(statement)
        return {table: _columns(conn, table) for table in tables(conn)}


def schema_problem(
    conn: sqlite3.Connection,
    path: Path,
    schema: Sequence[str],
    fmt: str,
    scheme: str,
    also: Sequence[str] = (),
) -> StoreError | None:
    """Why the file cannot be served as this store (None when it can)."""
    found_tables = set(tables(conn))
    expected = expected_columns(schema)
    meta: dict[str, str] = {}
    if "meta" in found_tables and _columns(conn, "meta") == expected["meta"]:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    if "format" not in meta and "scheme" not in meta:
        return StoreBroken(
            f"{path} is not a paradup index: it holds the tables {', '.join(sorted(found_tables))}, "
            "which paradup did not write. Point PARADUP_STORE at a paradup index or at a new file"
        )
    if meta.get("format") != fmt:
        what = meta.get("format", "the first format (one row per band key)")
        return StoreFormatError(
            f"{path} was written in {what}, not {fmt!r}: re-ingest the documents into a new store file"
        )
    missing = sorted(set(expected) - found_tables)
    if missing:
        return StoreBroken(f"{path} is damaged: tables missing: {', '.join(missing)}; {REPAIR}")
    for table, columns in expected.items():
        found = _columns(conn, table)
        if found != columns:
            return StoreBroken(
                f"{path} is damaged: table {table} has columns {found}, not {columns}; {REPAIR}"
            )
    if meta.get("scheme") != scheme and meta.get("scheme") not in also:
        return SchemeMismatch(
            f"{path} was indexed with {meta.get('scheme')!r}, not {scheme!r}: "
            "use the same fingerprint settings or a new store"
        )
    return None


def probe(conn: sqlite3.Connection, with_runs: bool = True) -> None:
    """Reads the first and last rows of each table: cheap at any size (a
    root-to-leaf path each) and enough to fail on a file damaged near its
    B-tree roots. Damage elsewhere is caught when a request reaches it, or by
    ``verify``."""
    edges = [("documents", "pk"), ("paragraphs", "ref"), ("bands", "bucket")]
    if with_runs:
        edges += [("runs", "id"), ("segments", "id"), ("dead", "first")]
    for table, key in edges:
        # Two statements: SQLite walks one edge for a lone min() or max(),
        # but scans the whole table for both in one.
        for edge in ("min", "max"):
            conn.execute(f"SELECT {edge}({key}) FROM {table}").fetchone()


def verify(
    path: Path,
    schema: Sequence[str],
    fmt: str,
    scheme: str,
    older: Mapping[str, Sequence[str]] | None = None,
    also: Sequence[str] = (),
) -> list[str]:
    """Every problem found in the store file (empty: it is sound): schema,
    a full ``PRAGMA integrity_check``, the stored counters and every run
    file the index lists. ``older``: formats still opened (and upgraded), with
    their schema."""
    if not path.is_file():
        return [f"{path}: no such file"]
    problems: list[str] = []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        sound = True
        with suppress(sqlite3.Error):
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is not None and row[0] in (older or {}):
                fmt, schema = row[0], (older or {})[row[0]]
        try:
            problem = schema_problem(conn, path, schema, fmt, scheme, also)
            if problem is not None:
                problems.append(str(problem))
                sound = False
        except sqlite3.Error as exc:
            problems.append(f"{path}: reading the schema: {exc}")
            sound = False
        try:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check(50)")]
            if rows != ["ok"]:
                problems += [f"{path}: integrity check: {row}" for row in rows]
            elif sound:
                problems += _counter_problems(conn, path)
                if "runs" in tables(conn):
                    problems += _run_problems(conn, path)
        except sqlite3.Error as exc:
            problems.append(f"{path}: integrity check: {exc}")
    return problems


def _counter_problems(conn: sqlite3.Connection, path: Path) -> list[str]:
    meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('documents', 'paragraphs')"))
    documents, listed = conn.execute(
        "SELECT count(*), coalesce(sum(paragraphs), 0) FROM documents"
    ).fetchone()
    (paragraphs,) = conn.execute("SELECT count(*) FROM paragraphs").fetchone()
    counted = {"documents": documents, "paragraphs": paragraphs}
    problems = [
        f"{path}: meta counts {meta.get(name, '0')} {name}, the tables hold {value}"
        for name, value in counted.items()
        if int(meta.get(name, 0)) != value
    ]
    if listed != paragraphs:
        problems.append(
            f"{path}: documents list {listed} paragraphs, the paragraphs table holds {paragraphs}"
        )
    return problems


def _run_problems(conn: sqlite3.Connection, path: Path) -> list[str]:
    problems = []
    for run_id, entries in conn.execute("SELECT id, entries FROM runs"):
        try:
            run = RunFile(run_path(path, run_id))
            run.check()
            if run.entries != entries:
                problems.append(f"{run.path}: {run.entries} entries, the manifest lists {entries}")
        except RunDamaged as exc:
            problems.append(f"{exc}; {REPAIR}")
    return problems
