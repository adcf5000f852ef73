"""What the SQLite store adds to the contract: its file format, the bucketed
band index (both write paths), and the CLI's bulk ingest."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from app.engine import DocumentInput, Service
from app.engine.bulk import ingest_stream
from app.settings import Settings
from app.store.sqlite import SqliteStore, StoreFormatError
from app.store.sqlite_bands import BUCKET_BITS, lookup_entries
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


def test_bulk_rewrite_and_in_place_append_index_the_same(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db", FP.band_keys, FP.scheme)
    bulk = [document(f"bulk-{i}", texts(20, f"b{i}")) for i in range(50)]
    store.put(bulk)  # empty table: the rewrite path
    store.put([document("late", texts(3, "late"))])  # a few rows: the append path
    for doc in [*bulk[::7], document("late", texts(3, "late"))]:
        for i, p in enumerate(doc.paragraphs):
            found = store.paragraphs(sorted(refs_of(store, p.text)))
            assert (doc.id, i, p.text) in {(q.document_id, q.index, q.text) for q in found.values()}
    assert store.delete("bulk-0")
    assert all(
        all(q.document_id != "bulk-0" for q in store.paragraphs(sorted(refs_of(store, p.text))).values())
        for p in bulk[0].paragraphs
    )
    store.close()


def test_a_key_is_found_by_its_bucket_and_tag_only(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db", FP.band_keys, FP.scheme)
    doc = document("d", texts(1))
    store.put([doc])
    key = int(doc.paragraphs[0].keys[0])
    near = key ^ (1 << (BUCKET_BITS + 16))  # same bucket and tag, other high bits
    other_tag = key ^ (1 << BUCKET_BITS)
    conn = store._conn
    found = lookup_entries(conn, np.array([key, near, other_tag], dtype=np.int64))
    assert found[key] == found[near] == [1]
    assert other_tag not in found
    store.close()


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


@pytest.mark.parametrize("batch", [(3, 10), (1000, 10**6)])
def test_ingest_stream_counts_and_repeated_ids(
    store_url: str, monkeypatch: pytest.MonkeyPatch, batch: tuple[int, int]
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
    counts, paragraphs = ingest_stream(service, docs, lambda n, stage: stages.append(stage))
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
