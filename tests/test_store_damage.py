"""A damaged SQLite store (pages overwritten, a table missing, a foreign
file) is a permanent failure: refused with a clear, non-retryable answer and
never written to; ``paradup verify`` lists what is wrong."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import app.store.sqlite_connect
from app.api.factory import create_app
from app.cli import main
from app.engine import Service
from app.settings import Settings
from app.store import StoreBroken
from app.store.sqlite import SqliteStore, StoreFormatError
from app.store.sqlite_checks import is_damage
from app.store.sqlite_driver import sqlite3
from tests.test_store_contract import FP, document


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """4 KiB pages, so that the small stores below span many pages to damage."""
    monkeypatch.setattr(app.store.sqlite_connect, "PAGE_BYTES", 4096)


def autocommit(path: Path) -> closing[sqlite3.Connection]:
    return closing(sqlite3.connect(path, isolation_level=None))


def texts(doc: int) -> list[str]:
    return [
        f"Document {doc} paragraph {n}: the harbour board met again to discuss berth {doc * 3 + n}, "
        f"the dredging contract and the winter timetable for ferries leaving at {n + 6} o'clock."
        for n in range(3)
    ]


def build(path: Path, documents: int = 400) -> None:
    with TestClient(create_app(Settings(store=str(path)))) as client:
        batch = [{"id": f"d{i}", "text": "\n\n".join(texts(i))} for i in range(documents)]
        assert client.post("/ingest", json={"documents": batch}).status_code == 200


def leaf_pages(path: Path, table: str) -> list[int]:
    """The leaf pages of a table's B-tree, left to right, read from the file
    (SQLite's dbstat would tell, but pysqlite3's build lacks it)."""
    with autocommit(path) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?", (table,)).fetchone()
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big") or 65536
    leaves: list[int] = []

    def walk(page: int) -> None:
        start = (page - 1) * page_size
        head = start + (100 if page == 1 else 0)
        kind, cells = data[head], int.from_bytes(data[head + 3 : head + 5], "big")
        if kind == 0x0D:  # table leaf
            leaves.append(page)
            return
        assert kind == 0x05, f"page {page} of {table} is not a table B-tree page"
        pointers = head + 12
        for n in range(cells):
            cell = start + int.from_bytes(data[pointers + 2 * n : pointers + 2 * n + 2], "big")
            walk(int.from_bytes(data[cell : cell + 4], "big"))  # the cell's left child
        walk(int.from_bytes(data[head + 8 : head + 12], "big"))  # the right-most child

    walk(root)
    return leaves


def overwrite_pages(path: Path, table: str, count: int, first: int = 1) -> None:
    """Fills ``count`` leaf pages of a table with garbage, from its ``first``
    in B-tree order (the default leaves its first and last pages, the ones
    the check at open reads)."""
    with autocommit(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = leaf_pages(path, table)
    assert len(pages) > first + count, pages
    middle = pages[first : first + count]
    with path.open("r+b") as raw:
        for page in middle:
            raw.seek((page - 1) * page_size)
            raw.write(bytes([0x5A]) * page_size)


def test_overwritten_pages_break_the_store_for_good(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    build(path)
    overwrite_pages(path, "paragraphs", 40)
    with TestClient(create_app(Settings(store=str(path)))) as client:
        assert client.get("/ready").status_code == 200  # damage not met yet
        damaged = client.get("/documents/d200")
        assert damaged.status_code == 503
        assert damaged.json()["retryable"] is False
        assert "is damaged" in damaged.json()["detail"] and "paradup verify" in damaged.json()["detail"]
        for response in (
            client.get("/ready"),
            client.get("/documents/d0"),
            client.post("/ingest", json={"id": "new", "text": "\n\n".join(texts(999))}),
            client.post("/check", json={"text": "\n\n".join(texts(1))}),
        ):
            assert response.status_code == 503
            assert response.json()["retryable"] is False
    with autocommit(path) as conn:
        assert conn.execute("SELECT count(*) FROM documents WHERE id = 'new'").fetchone() == (0,)
    assert main(["verify", "--store", str(path)]) == 2


def test_damage_at_a_table_edge_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    build(path, 100)
    overwrite_pages(path, "documents", 1, first=0)
    with pytest.raises(StoreBroken, match="is damaged"):
        Service.open(Settings(store=str(path)))


def test_verify_passes_a_sound_store_and_lists_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "index.db"
    build(path, 50)
    assert main(["verify", "--store", str(path)]) == 0
    assert "ok" in capsys.readouterr().out
    with autocommit(path) as conn:
        conn.execute("UPDATE meta SET value = '7' WHERE key = 'documents'")
    assert main(["verify", "--store", str(path)]) == 2
    assert "meta counts 7 documents, the tables hold 50" in capsys.readouterr().out
    overwrite_pages(path, "paragraphs", 3)
    assert main(["verify", "--store", str(path)]) == 2
    assert "integrity check" in capsys.readouterr().out
    assert main(["verify", "--store", str(tmp_path / "absent.db")]) == 2
    assert not (tmp_path / "absent.db").exists()


def test_a_file_with_foreign_tables_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "crm.db"
    with autocommit(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER)")
    with pytest.raises(
        StoreBroken, match="not a paradup index: it holds the tables customers, orders"
    ) as err:
        SqliteStore(path, FP.band_keys, FP.scheme)
    assert "first format" not in str(err.value)
    assert not isinstance(err.value, StoreFormatError)
    assert main(["stats", "--store", str(path)]) == 2
    assert "not a paradup index" in capsys.readouterr().err
    with autocommit(path) as conn:  # nothing was added to it
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == [
            "customers",
            "orders",
        ]


def test_a_missing_table_is_damage_at_open_and_at_run_time(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    store = SqliteStore(path, FP.band_keys, FP.scheme)
    store.put([document("doc-1", texts(1))])
    with autocommit(path) as conn:
        conn.execute("DROP TABLE bands")
        conn.execute("DROP TABLE paragraphs")
    with pytest.raises(StoreBroken, match="tables missing: bands, paragraphs"):
        SqliteStore(path, FP.band_keys, FP.scheme)
    # the store opened before the tables were dropped finds out on its next call
    with pytest.raises(StoreBroken, match="no such table"):
        store.get("doc-1")
    for call in (store.ping, lambda: store.put([document("doc-2", texts(2))]), store.stats):
        with pytest.raises(StoreBroken):
            call()
    store.close()


def test_a_locked_file_is_a_passing_failure(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    SqliteStore(path, FP.band_keys, FP.scheme).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with (
            closing(sqlite3.connect(path, timeout=0)) as other,
            pytest.raises(sqlite3.OperationalError) as locked,
        ):
            other.execute("BEGIN IMMEDIATE")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not is_damage(locked.value)
    assert not is_damage(sqlite3.OperationalError("database or disk is full"))
    assert is_damage(sqlite3.DatabaseError("database disk image is malformed"))
