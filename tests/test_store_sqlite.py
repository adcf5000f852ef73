"""What the SQLite store adds to the contract: its file format and the
upgrade of the bucketed one, the index's runs, segments and merges, and the
CLI's bulk ingest."""

from __future__ import annotations

import json
import multiprocessing
import platform
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine import DocumentInput, Service
from app.engine.bulk import ingest_stream
from app.settings import Settings
from app.store import StoreUnavailable, sqlite_connect, sqlite_index, sqlite_schema, verify_store
from app.store.base import NewDocument
from app.store.sqlite import SqliteStore, StoreFormatError
from app.store.sqlite_bands import Additions
from app.store.sqlite_driver import sqlite3
from tests.test_store_contract import FP, document


def texts(n: int, salt: str = "") -> list[str]:
    return [
        f"Paragraph {i}{salt} tells of item {i * 7} and the {i % 13} boats that left port on day {i}."
        for i in range(n)
    ]


def refs_of(store: SqliteStore, text: str) -> set[int]:
    return {r for refs in store.lookup(FP.band_keys([text])[0]).values() for r in refs}


def test_a_file_in_the_first_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE bands (key INTEGER NOT NULL, ref INTEGER NOT NULL, "
            "PRIMARY KEY (key, ref)) WITHOUT ROWID;"
        )
        conn.execute("INSERT INTO meta VALUES ('scheme', ?)", (FP.scheme,))
    with pytest.raises(StoreFormatError, match="re-ingest"):
        SqliteStore(path, FP.band_keys, FP.scheme)


def test_the_cli_reports_a_refused_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
    assert main(["stats", "--store", str(path)]) == 2
    assert "not a paradup index" in capsys.readouterr().err


@pytest.fixture
def small_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thresholds small enough that a few documents make runs and merges."""
    monkeypatch.setattr(sqlite_index, "FLUSH_ENTRIES", 300)
    monkeypatch.setattr(sqlite_index, "FANIN", 3)


def found_in(store: SqliteStore, doc: NewDocument) -> bool:
    return all(
        (doc.id, i, p.text)
        in {
            (q.document_id, q.index, q.text)
            for q in store.paragraphs(sorted(refs_of(store, p.text))).values()
        }
        for i, p in enumerate(doc.paragraphs)
    )


def test_runs_segments_and_merges_index_the_same(tmp_path: Path, small_index: None) -> None:
    store = SqliteStore(tmp_path / "s.db", FP.band_keys, FP.scheme)
    bulk = [document(f"bulk-{i}", texts(20, f"b{i}")) for i in range(6)]
    for doc in bulk:
        store.put([doc])  # each over FLUSH_ENTRIES: a run each, merged by threes
    store.put([document("late", texts(1, "late"))])  # a segment
    store.compact()  # waits for the background merges
    runs = store._conn.execute("SELECT count(*), sum(entries) FROM runs").fetchone()
    assert runs[0] < len(bulk) and runs[1] == sum(sum(p.keys.size for p in d.paragraphs) for d in bulk)
    for doc in [*bulk, document("late", texts(1, "late"))]:
        assert found_in(store, doc)
    assert store.delete("bulk-0")
    assert all(
        all(q.document_id != "bulk-0" for q in store.paragraphs(sorted(refs_of(store, p.text))).values())
        for p in bulk[0].paragraphs
    )
    # the lookup itself drops forgotten refs (the checker's caps count them)
    first = store.get("bulk-1")
    assert first is not None
    dead_refs = {r for p in bulk[0].paragraphs for r in refs_of(store, p.text)}
    assert not dead_refs & set(range(1, 21))
    store.close()


def ref_of(store: SqliteStore, text: str) -> set[int]:
    return {r for r, p in store.paragraphs(sorted(refs_of(store, text))).items() if p.text == text}


def test_refs_are_never_reused(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db", FP.band_keys, FP.scheme)
    store.put([document("a", texts(2)), document("b", texts(2, "b"))])
    assert ref_of(store, texts(2, "b")[1]) == {4}
    assert store.delete("b")
    store.put([document("c", texts(2, "c"))])  # max(ref) + 1 would be 3 again
    assert {r for t in texts(2, "c") for r in ref_of(store, t)} == {5, 6}
    assert 4 not in refs_of(store, texts(2, "b")[1])
    store.close()


def test_a_run_key_is_found_by_its_top_40_bits(tmp_path: Path, small_index: None) -> None:
    store = SqliteStore(tmp_path / "s.db", FP.band_keys, FP.scheme)
    doc = document("d", texts(20))
    store.put([doc])
    assert store._conn.execute("SELECT count(*) FROM segments").fetchone() == (0,)
    key = int(doc.paragraphs[0].keys[0])
    near = key ^ 1  # same top 40 bits
    other = key ^ (1 << 30)
    found = store.lookup(np.array([key, near, other], dtype=np.int64))
    assert found[key] == found[near] == [1]
    assert other not in found
    store.close()


def test_a_store_in_the_bucket_format_opens_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    old = [document("old-1", texts(3)), document("old-2", texts(2, "x"))]
    with closing(sqlite3.connect(path)) as conn, conn:
        for statement in sqlite_schema.SCHEMA_2:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("format", sqlite_schema.FORMAT_2),
                ("scheme", FP.scheme),
                ("documents", "2"),
                ("paragraphs", "5"),
            ],
        )
        additions = Additions()
        ref = 1
        for pk, doc in enumerate(old, 1):
            conn.execute(
                "INSERT INTO documents VALUES (?, ?, ?, '{}', ?, ?)",
                (pk, doc.id, doc.digest, ref, len(doc.paragraphs)),
            )
            for p in doc.paragraphs:
                conn.execute("INSERT INTO paragraphs VALUES (?, ?, ?)", (ref, pk, p.text))
                additions.add(p.keys, ref)
                ref += 1
        additions.apply(conn)
    store = SqliteStore(path, FP.band_keys, FP.scheme)
    assert store._conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() == (
        sqlite_schema.FORMAT,
    )
    assert all(found_in(store, doc) for doc in old)
    new = document("new", texts(2, "new"))
    store.put([new])
    assert found_in(store, new)
    assert ref_of(store, new.paragraphs[0].text) == {6}
    assert store.delete("old-2")
    assert not {4, 5} & refs_of(store, old[1].paragraphs[0].text)
    assert store.compact() == 0 and found_in(store, old[0])
    store.close()
    assert verify_store(str(path), FP.scheme) == []


def test_a_failed_write_leaves_no_run_and_no_row(
    tmp_path: Path, small_index: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path, FP.band_keys, FP.scheme)
    store.put([document("kept", texts(2))])

    def fail(directory: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sqlite_index, "fsync_directory", fail)
    with pytest.raises(StoreUnavailable):
        store.put([document("big", texts(20, "big"))])  # a run, renamed, then the failure
    assert store.get("big") is None
    assert store.stats().paragraphs == 2
    store.close()
    monkeypatch.undo()
    reopened = SqliteStore(path, FP.band_keys, FP.scheme)
    assert [p.name for p in tmp_path.glob("s.db.run-*")] == []
    assert found_in(reopened, document("kept", texts(2)))
    reopened.close()


def test_prepare_many_equals_one_by_one(tmp_path: Path) -> None:
    service = Service.open(Settings(store=f"sqlite:///{tmp_path}/p.db"))
    docs = [
        DocumentInput("a", "\n\n".join(texts(4)), metadata={"k": [1, "é"]}),
        DocumentInput("b", "<p>" + "</p><p>".join(texts(3, "h")) + "</p><p>Short.</p>", "html"),
        DocumentInput("c", "Just one short line."),
    ]
    one_by_one = [service.prepare_many([d])[0] for d in docs]
    batched = service.prepare_many(docs)
    for x, y in zip(one_by_one, batched, strict=True):
        assert (x.id, x.metadata, x.digest) == (y.id, y.metadata, y.digest)
        assert [p.text for p in x.paragraphs] == [p.text for p in y.paragraphs]
        assert all(np.array_equal(p.keys, q.keys) for p, q in zip(x.paragraphs, y.paragraphs, strict=True))
    service.close()


@pytest.mark.parametrize(("batch", "process"), [((3, 10), False), ((1000, 10**6), False), ((3, 10), True)])
def test_ingest_stream_counts_and_repeated_ids(
    store_url: str, monkeypatch: pytest.MonkeyPatch, batch: tuple[int, int], process: bool
) -> None:
    import app.engine.bulk

    # small batches, then one batch holding both versions of a document
    monkeypatch.setattr(app.engine.bulk, "PREPARE_DOCUMENTS", batch[0])
    monkeypatch.setattr(app.engine.bulk, "WRITE_PARAGRAPHS", batch[1])
    service = Service.open(Settings(store=store_url))
    docs = [DocumentInput(f"d{i}", "\n\n".join(texts(4, f"d{i}"))) for i in range(10)]
    docs.insert(5, DocumentInput("d1", "\n\n".join(texts(2, "new"))))  # same batch as nothing: an update
    docs.append(DocumentInput("d9", "\n\n".join(texts(4, "d9"))))  # same text: unchanged
    stages: list[str] = []
    counts, paragraphs = ingest_stream(service, docs, lambda n, stage: stages.append(stage), process=process)
    assert counts == {"created": 10, "updated": 1, "unchanged": 1}
    assert paragraphs == 10 * 4 + 2 + 4
    assert "writing" in stages
    stored = service.get("d1")
    assert stored is not None and stored.paragraphs == texts(2, "new")
    assert (service.stats().documents, service.stats().paragraphs) == (10, 9 * 4 + 2)
    service.close()


def test_cli_ingest_file(tmp_path: Path) -> None:
    from app.cli import main

    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"id": f"d{i}", "text": "\n\n".join(texts(3, str(i)))}) + "\n" for i in range(30))
    )
    store = tmp_path / "c.db"
    assert main(["ingest", "--quiet", "--store", str(store), str(jsonl)]) == 0
    service = Service.open(Settings(store=str(store)))
    assert (service.stats().documents, service.stats().paragraphs) == (30, 90)
    service.close()


def test_a_new_store_has_large_pages_and_an_older_file_keeps_its_own(tmp_path: Path) -> None:
    fresh = SqliteStore(tmp_path / "new.db", FP.band_keys, FP.scheme)
    assert fresh._conn.execute("PRAGMA page_size").fetchone() == (sqlite_connect.PAGE_BYTES,)
    fresh.close()
    with closing(sqlite3.connect(tmp_path / "old.db")) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("VACUUM")  # an empty file with 4 KiB pages, as stores were made before
    older = SqliteStore(tmp_path / "old.db", FP.band_keys, FP.scheme)
    older.put([document("d1", ["The harbour board met again about the dredging contract."])])
    assert older._conn.execute("PRAGMA page_size").fetchone() == (4096,)
    assert older.get("d1") is not None
    older.close()
    assert verify_store(str(tmp_path / "old.db"), FP.scheme) == []


def _open_fresh(path: str, ready: Any) -> None:
    ready.wait()
    SqliteStore(Path(path), FP.band_keys, FP.scheme).close()


def test_processes_opening_one_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    # Forked workers open a new store at the same moment; SQLite refuses one
    # of two simultaneous switches to WAL mode without waiting (it failed
    # 29 of 80 openings in pairs before the store retried it).
    context = multiprocessing.get_context("spawn")
    for n in range(6):
        ready = context.Barrier(2)
        path = str(tmp_path / f"fresh-{n}.db")
        openers = [context.Process(target=_open_fresh, args=(path, ready)) for _ in range(2)]
        for p in openers:
            p.start()
        for p in openers:
            p.join(120)
        assert [p.exitcode for p in openers] == [0, 0]
        assert verify_store(path, FP.scheme) == []


def test_a_store_file_is_mapped_whole_beyond_2_gb(tmp_path: Path) -> None:
    from app.store.sqlite_connect import MMAP_BYTES, connect

    # Where pyproject.toml installs pysqlite3-binary, a missing one is an
    # install that went wrong, not a platform without the wheel.
    if (platform.system(), platform.machine()) != ("Linux", "x86_64"):
        pytest.skip("no pysqlite3-binary wheel here: the system's SQLite caps the map at its build's size")
    assert sqlite3.__name__ == "pysqlite3.dbapi2"
    with closing(connect(tmp_path / "mapped.db")) as conn:
        # SQLite answers the map size it will use: the asked one, unless its
        # build caps it (2,147,418,112 for the system's SQLite measured).
        assert conn.execute("PRAGMA mmap_size").fetchone()[0] == MMAP_BYTES > 1 << 32
