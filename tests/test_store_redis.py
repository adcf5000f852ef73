"""What the Redis backend promises beyond the shared contract: no orphan keys,
namespaces, compare-and-set writes, and recovery when Redis comes back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.settings import Settings
from app.store import NewDocument, NewParagraph, StoreError, StoreUnavailable, open_store
from app.store.redis import RedisStore
from app.store.redis_client import as_text
from app.store.redis_layout import RECORD, shard_of
from tests.redis_servers import RedisServer, have_redis, namespace, start_server
from tests.test_store_contract import FP, TEXTS, document, refs_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]  # real redis-server processes

LONG = [
    f"Paragraph {i} of the cycle test talks about the harbour, the ferries and the repairs in detail."
    for i in range(6)
]


@pytest.fixture(params=["redis", "redis-cluster"])
def url(request: pytest.FixtureRequest) -> str:
    value: str = request.getfixturevalue(f"{request.param.replace('-', '_')}_url")
    return value


@pytest.fixture
def store(url: str) -> Iterator[RedisStore]:
    opened = open_store(url, FP.band_keys, FP.scheme)
    assert isinstance(opened, RedisStore)
    yield opened
    opened.close()


def namespace_keys(store: RedisStore) -> list[bytes]:
    """Every key of the namespace: its layout key and its shards' keys."""
    ns = store.namespace.encode()
    patterns = [b"paradup:\\{" + ns + b"\\}:*", b"paradup:\\{" + ns + b"/*"]
    return sorted({k for p in patterns for k in store.client.scan_iter(match=p, count=1000)})


def bucket_records(store: RedisStore) -> int:
    buckets = [k for k in namespace_keys(store) if b"}:b" in k]
    return sum(len(store.client.get(k) or b"") for k in buckets) // RECORD


def test_cycles_leave_no_orphan_keys(store: RedisStore) -> None:
    store.put([document("a", LONG[:4]), document("b", LONG[2:] + TEXTS)])
    full = bucket_records(store)
    assert full > 0
    store.put([document("a", LONG[:2]), document("b", TEXTS[:1])])  # fewer paragraphs each
    smaller = bucket_records(store)
    assert 0 < smaller < full
    store.put([document("a", LONG[:4]), document("b", LONG[2:] + TEXTS)])
    assert bucket_records(store) == full
    assert store.delete("a") and store.delete("b")
    assert namespace_keys(store) == store.layout.fixed_keys()
    stats = store.stats()
    assert (stats.documents, stats.paragraphs) == (0, 0)


def test_namespaces_are_separate(url: str) -> None:
    base = url.split("?")[0]
    first = open_store(f"{base}?namespace={namespace()}&create=1", FP.band_keys, FP.scheme)
    second = open_store(f"{base}?namespace={namespace()}&create=1", FP.band_keys, FP.scheme)
    try:
        first.put([document("doc-1", TEXTS)])
        assert second.get("doc-1") is None
        assert refs_for(second, TEXTS[0]) == set()
        assert second.stats().documents == 0
        # another fingerprint scheme is fine in another namespace
        open_store(f"{base}?namespace={namespace()}&create=1", FP.band_keys, FP.scheme + " x").close()
    finally:
        first.close()
        second.close()


def test_bucket_bits_are_fixed_by_the_first_opener(url: str) -> None:
    first = open_store(url + "&bucket_bits=12", FP.band_keys, FP.scheme)
    later = open_store(url + "&bucket_bits=20", FP.band_keys, FP.scheme)
    try:
        assert isinstance(later, RedisStore)
        assert later.layout.bits == 12
        first.put([document("doc-1", TEXTS)])
        assert len(refs_for(later, TEXTS[0])) == 1
    finally:
        first.close()
        later.close()


@pytest.mark.parametrize(
    "query", ["namespace=has{brace}", "namespace=", "bucket_bits=7", "bucket_bits=25", "bucket_bits=x"]
)
def test_bad_url_options_are_refused(redis_server: RedisServer, query: str) -> None:
    with pytest.raises(StoreError):
        open_store(f"{redis_server.url}?{query}", FP.band_keys, FP.scheme)


def test_concurrent_update_between_read_and_write_is_retried(url: str) -> None:
    """A writer that changed the document after we read it wins the race; we
    re-read and apply on top of it, leaving no record of either old version."""
    other = open_store(url, FP.band_keys, FP.scheme)
    raced = {"done": False}

    def band_keys(texts: Sequence[str]) -> list[np.ndarray]:  # type: ignore[type-arg]
        if not raced["done"]:
            raced["done"] = True
            other.put([document("doc-1", LONG[3:5])])
        return FP.band_keys(texts)

    racer = open_store(url, band_keys, FP.scheme)
    try:
        other.put([document("doc-1", LONG[:3])])
        assert racer.put([document("doc-1", TEXTS)]) == ["updated"]
        assert raced["done"]
        doc = racer.get("doc-1")
        assert doc is not None and doc.paragraphs == TEXTS
        for old in [*LONG[:3], *LONG[3:5]]:
            assert refs_for(racer, old) == set()
        assert len(refs_for(racer, TEXTS[0])) == 1
        stats = racer.stats()
        assert (stats.documents, stats.paragraphs) == (1, 3)
    finally:
        racer.close()
        other.close()


def test_a_document_number_the_counter_lost_is_not_given_twice(store: RedisStore) -> None:
    """A write sent again after a failover may reach a promoted replica whose
    counter never saw that write's reservation: the next document of the
    shard must not get the same number (both would share one list)."""
    shards = store.layout.shards
    store.put([document("first", LONG[:2])])
    shard = shard_of("first", shards)
    meta, ids = store.layout.metas[shard], store.layout.prefixes[shard] + b"ids"

    def number(doc_id: str) -> int:
        return int(str(as_text(store.client.hget(ids, doc_id))))

    seq = number("first")
    store.client.hset(meta, "seq", seq - 1)  # the counter as it was before "first"
    second = next(d for d in (f"second-{n}" for n in range(10_000)) if shard_of(d, shards) == shard)
    assert store.put([document(second, TEXTS)]) == ["created"]
    first, other = store.get("first"), store.get(second)
    assert first is not None and first.paragraphs == LONG[:2]
    assert other is not None and other.paragraphs == TEXTS
    assert number(second) > seq
    assert store.stats().documents == 2


def test_too_many_paragraphs_is_refused(store: RedisStore) -> None:
    empty = np.empty(0, np.int64)
    paragraphs = [NewParagraph("short", empty)] * ((1 << 16) + 1)
    with pytest.raises(ValueError, match="paragraphs"):
        store.put([NewDocument("big", {}, "digest", paragraphs)])
    assert store.get("big") is None


# Redis going away and coming back: a server of the test's own, because it
# is stopped and restarted on the same port.


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RedisServer]:
    if not have_redis():
        pytest.skip("redis-server is not installed (make system-deps installs it with apt)")
    # Persistent, so that a restart brings the index back (a restart that
    # loses it is tests/test_redis_namespace.py's subject).
    server = start_server(tmp_path, "--appendonly", "yes")
    yield server
    server.stop()


def test_store_unavailable_then_recovers(own_server: RedisServer) -> None:
    store = open_store(own_server.url + "?create=1", FP.band_keys, FP.scheme)
    try:
        store.put([document("doc-1", TEXTS)])
        own_server.stop()
        for call in (
            store.ping,
            lambda: store.get("doc-1"),
            lambda: store.lookup(FP.band_keys(TEXTS[:1])[0]),
            lambda: store.put([document("doc-2", TEXTS)]),
            store.stats,
        ):
            with pytest.raises(StoreUnavailable):
                call()
        own_server.start()  # same port, same append-only file
        store.ping()
        assert store.put([document("doc-2", TEXTS)]) == ["created"]
        assert len(refs_for(store, TEXTS[0])) == 2
    finally:
        store.close()


def test_http_answers_503_while_redis_is_down(own_server: RedisServer) -> None:
    article = {"text": "\n\n".join(TEXTS)}
    with TestClient(create_app(Settings(store=own_server.url + "?create=1"))) as client:
        assert client.post("/ingest", json={"id": "doc-1", "text": "\n\n".join(TEXTS)}).status_code == 200
        own_server.stop()
        for response in (
            client.post("/check", json=article),
            client.post("/ingest", json={"id": "doc-2", "text": "\n\n".join(TEXTS)}),
            client.get("/ready"),
        ):
            assert response.status_code == 503
            assert "unavailable" in response.json()["detail"] and response.json()["retryable"] is True
        own_server.start()
        assert client.get("/ready").status_code == 200
        assert client.post("/ingest", json={"id": "doc-1", "text": "\n\n".join(TEXTS)}).status_code == 200
        check = client.post("/check", json=article)
        assert check.status_code == 200
        assert check.json()["duplicate"] is True


def test_buckets_grown_by_many_writes_keep_no_spare_room(url: str) -> None:
    # APPLY appends a batch's records to a bucket in place (APPEND), which
    # would leave a string up to twice its length; it copies it once to its
    # exact size. Many small batches into few buckets grow each one often.
    opened = open_store(url + "&bucket_bits=8", FP.band_keys, FP.scheme)
    assert isinstance(opened, RedisStore)
    with closing(opened) as store:
        for batch in range(30):
            store.put(
                [
                    document(f"doc-{batch}-{n}", [f"{word} {batch} {n}: {text}" for text in TEXTS])
                    for n, word in enumerate(("Harbour", "Council", "Weather"))
                ]
            )
        buckets = [k for k in namespace_keys(store) if b"}:b" in k and not k.endswith(b"}:bt")]
        assert len(buckets) > 8
        lengths = sum(int(store.client.strlen(k)) for k in buckets)
        used = sum(int(store.client.memory_usage(k, samples=0) or 0) for k in buckets)
        assert lengths > 50_000
        # The key, the object and the allocator's rounding: well under what
        # an sds grown by APPEND keeps (its length again, at most).
        assert used <= 1.25 * lengths + 96 * len(buckets), (used, lengths, len(buckets))
        assert b"bt" not in {k.rsplit(b"}:", 1)[1] for k in namespace_keys(store)}
