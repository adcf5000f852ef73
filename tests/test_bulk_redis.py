"""Bulk ingest into Redis (app/engine/bulk): a transaction is written in
pieces of about NETWORK_WRITE_PARAGRAPHS paragraphs, whole documents each,
because every piece is a script that holds its server while it runs; an
embedded store still writes each transaction whole."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

import app.engine.bulk
from app.engine import DocumentInput, Service
from app.engine.bulk import ingest_file, ingest_stream
from app.engine.records import FieldMap
from app.settings import Settings
from app.store import NewDocument, WriteStatus
from tests.test_bulk_files import blocks, records, write_lines
from tests.test_ingest_pipeline import article, long_article

pytestmark = [pytest.mark.redis, pytest.mark.slow]  # real redis-server processes


@pytest.fixture(autouse=True)
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    # 4 documents hashed per call, one transaction for all, pieces of 10 paragraphs
    monkeypatch.setattr(app.engine.bulk, "PREPARE_DOCUMENTS", 4)
    monkeypatch.setattr(app.engine.bulk, "WRITE_PARAGRAPHS", 1000)
    monkeypatch.setattr(app.engine.bulk, "NETWORK_WRITE_PARAGRAPHS", 10)


def spied_puts(service: Service, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(paragraphs, documents) of each write the store is asked for, from now on."""
    pieces: list[tuple[int, int]] = []
    put = service.store.put

    def spy(documents: Sequence[NewDocument]) -> list[WriteStatus]:
        pieces.append((sum(len(d.paragraphs) for d in documents), len(documents)))
        return put(documents)

    monkeypatch.setattr(service.store, "put", spy)
    return pieces


def written(url: str, process: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], Service]:
    service = Service.open(Settings(store=url))
    pieces = spied_puts(service, monkeypatch)
    docs = [DocumentInput(f"d{i}", article(3 + i % 3, f"d{i}")) for i in range(20)]
    counts, paragraphs = ingest_stream(service, docs, lambda n, stage: None, process=process)
    assert counts["created"] == 20 and paragraphs == sum(3 + i % 3 for i in range(20))
    return [paragraphs for paragraphs, _ in pieces], service


@pytest.mark.parametrize("backend", ["redis", "redis-cluster"])
@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
def test_a_transaction_goes_to_redis_in_pieces_of_whole_documents(
    request: pytest.FixtureRequest, backend: str, process: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    url: str = request.getfixturevalue(f"{backend.replace('-', '_')}_url")
    sizes, service = written(url, process, monkeypatch)
    try:
        assert len(sizes) >= 8 and max(sizes) <= 10  # 79 paragraphs, documents of 3-5
        assert sum(sizes) == 79, sizes
        assert service.stats().documents == 20
        assert service.store.get("d19") is not None
    finally:
        service.close()


def test_an_embedded_store_writes_the_transaction_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes, service = written(f"sqlite:///{tmp_path}/b.db", False, monkeypatch)
    service.close()
    assert sizes == [79]


def test_a_file_read_by_processes_goes_to_redis_in_pieces(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ingest_file hands packed transactions (PackedDocuments): cut the same way.
    path = tmp_path / "in.jsonl"
    write_lines(path, records())
    service = Service.open(Settings(store=redis_url))
    pieces = spied_puts(service, monkeypatch)
    try:
        counts, _ = ingest_file(service, str(path), FieldMap(), blocks(path, 2000), lambda n, s: None)
        assert counts == {"created": 60, "updated": 1, "unchanged": 1}
        assert len(pieces) > 3
        assert all(paragraphs <= 10 or documents == 1 for paragraphs, documents in pieces), pieces
        stored = service.store.get("d5")
        (later,) = service.prepare_many([DocumentInput("d5", long_article("d5 again"))])
        assert stored is not None and stored.paragraphs == [p.text for p in later.paragraphs]
    finally:
        service.close()
