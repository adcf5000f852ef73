"""A Redis namespace spread over every master: shards, the one wave of a
check, waiting for replicas, and the way from the one-slot layout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.cli import main
from app.engine import Service
from app.engine.fingerprint import fingerprinter
from app.settings import Settings
from app.store import NewDocument, NewParagraph, StoreBroken, StoreError, StoreUnavailable, open_store
from app.store.base import CandidateRule
from app.store.redis import RedisStore
from app.store.redis_layout import shard_of, shard_tags
from tests.redis_servers import RedisCluster, RedisServer, have_redis, namespace, poll, start_server
from tests.test_store_contract import FP, TEXTS, document

pytestmark = [pytest.mark.redis, pytest.mark.slow]  # real redis-server processes

ARTICLE = "\n\n".join(TEXTS)


def open_redis(url: str) -> RedisStore:
    store = open_store(url, FP.band_keys, FP.scheme)
    assert isinstance(store, RedisStore)
    return store


def test_shard_tags_cover_the_slots_evenly() -> None:
    from redis.crc import key_slot

    tags = shard_tags("news", 64)
    assert len(set(tags)) == 64
    assert [key_slot(t.encode()) // 256 for t in tags] == list(range(64))
    # documents spread over the shards, and always to the same one
    counts = np.bincount([shard_of(f"2026/{n}", 64) for n in range(6400)], minlength=64)
    assert counts.min() > 60 and counts.max() < 140
    assert shard_of("2026/1", 64) == shard_of("2026/1", 64)


def test_the_shard_count_is_fixed_at_creation(redis_server: RedisServer) -> None:
    url = f"{redis_server.url}?namespace={namespace()}"
    with closing(open_redis(url + "&create=1&shards=8")) as first:
        first.put([document("doc-1", TEXTS)])
        assert first.stats().extra["shards"] == 8
    with closing(open_redis(url + "&create=1&shards=16")) as later:
        assert later.layout.shards == 8
        assert later.get("doc-1") is not None
    with pytest.raises(StoreError, match="only accepted with create=1"):
        open_redis(url + "&shards=8")
    for bad in ("shards=3", "shards=0", "shards=512", "wait_replicas=-1", "wait_timeout=x"):
        with pytest.raises(StoreError):
            open_redis(f"{url}&create=1&{bad}")


def _master_shares(
    cluster: RedisCluster, store: RedisStore, before: list[int]
) -> tuple[list[float], list[float]]:
    keys, memory = [], []
    ns = store.namespace.encode()
    for node, was in zip(cluster.nodes, before, strict=True):
        with node.client() as client:
            keys.append(sum(1 for _ in client.scan_iter(match=b"paradup:\\{" + ns + b"/*", count=1000)))
            memory.append(int(client.info("memory")["used_memory"]) - was)
    return [k / sum(keys) for k in keys], [m / sum(memory) for m in memory]


def test_an_index_spreads_evenly_over_three_masters(
    redis_cluster: RedisCluster, redis_cluster_url: str
) -> None:
    def used() -> list[int]:
        out = []
        for node in redis_cluster.nodes:
            with node.client() as client:
                out.append(int(client.info("memory")["used_memory"]))
        return out

    before = used()
    with closing(open_redis(redis_cluster_url)) as store:
        words = "harbour ferry council district budget school rail museum bridge market".split()
        for start in range(0, 3000, 500):
            batch = [
                document(
                    f"spread/{n}",
                    [
                        f"Item {n}: the {words[n % 10]} and the {words[n * 7 % 10]} story number {n} "
                        f"of the spread test, told at length about {words[n * 3 % 10]}."
                    ],
                )
                for n in range(start, start + 500)
            ]
            store.put(batch)
        key_shares, memory_shares = _master_shares(redis_cluster, store, before)
        assert store.stats().documents == 3000
    for share in (*key_shares, *memory_shares):
        assert abs(share - 1 / 3) <= 0.05, (key_shares, memory_shares)


@pytest.mark.parametrize("backend", ["redis", "redis-cluster"])
def test_a_check_is_one_round_trip_per_master(request: pytest.FixtureRequest, backend: str) -> None:
    url: str = request.getfixturevalue(f"{backend.replace('-', '_')}_url")
    # 8 shards on the standalone server too: one call still covers them all
    with closing(open_redis(url + ("&shards=8" if backend == "redis" else ""))) as store:
        assert store.layout.shards == (8 if backend == "redis" else 32)
        store.put([document(f"doc-{n}", TEXTS) for n in range(20)])
        keys = FP.band_keys(TEXTS[:2])
        bands = np.concatenate([FP.split_keys(k)[0] for k in keys])
        prints = np.concatenate([FP.split_keys(k)[1] for k in keys])
        store.candidates(bands[:1], prints[:0], CandidateRule(64, 10))  # loads the script on every master
        before = store.round_trips()["check"]
        found = store.candidates(bands, prints, CandidateRule(64, 10))
        assert {p.document_id for p in found.paragraphs.values()} == {f"doc-{n}" for n in range(20)}
        trips = store.round_trips()
        assert "check again" not in trips  # no master fell back to one call per shard
        after = trips["check"]
        masters = 3 if backend == "redis-cluster" else 1
        assert after["waves"] == before["waves"] + 1
        assert len(after["per_master"]) == masters
        assert all(n - before["per_master"].get(m, 0) == 1 for m, n in after["per_master"].items())


def test_a_service_check_reads_the_archive_in_one_wave(redis_cluster_url: str) -> None:
    with TestClient(create_app(Settings(store=redis_cluster_url))) as client:
        assert client.post("/ingest", json={"id": "doc-1", "text": ARTICLE}).status_code == 200
        trips = client.get("/stats").json()["round_trips"]
        assert "check" not in trips
        assert client.post("/check", json={"text": ARTICLE}).json()["duplicate"] is True
        check = client.get("/stats").json()["round_trips"]["check"]
        assert check["waves"] == 1
        assert sorted(check["per_master"].values()) == [1, 1, 1]


# Waiting for replicas


@pytest.fixture
def primary_and_replica(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer]]:
    if not have_redis():
        pytest.skip("redis-server is not installed (make system-deps installs it with apt)")
    (tmp_path / "p").mkdir()
    (tmp_path / "r").mkdir()
    primary = start_server(tmp_path / "p")
    replica = start_server(tmp_path / "r", "--replicaof", "127.0.0.1", str(primary.port))
    try:
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


def replicas(server: RedisServer) -> int:
    with server.client() as client:
        return int(client.info("replication")["connected_slaves"])


def test_wait_replicas_acknowledges_only_replicated_writes(
    primary_and_replica: tuple[RedisServer, RedisServer],
) -> None:
    primary, replica = primary_and_replica
    poll("the replica", lambda: replicas(primary) == 1)
    url = f"{primary.url}?namespace={namespace()}&create=1&wait_replicas=1&wait_timeout=5000"
    with closing(open_redis(url)) as store:
        assert store.put([document("doc-1", TEXTS)]) == ["created"]
        with replica.client() as client:  # acknowledged: already on the replica
            assert any(client.scan_iter(match=b"*}:ids"))
        replica.stop()
        poll("the replica gone", lambda: replicas(primary) == 0)
        for _ in range(2):  # a retry is not acknowledged either while no replica confirms it
            with pytest.raises(StoreUnavailable, match="only 0 of 1 replicas"):
                store.put([document("doc-2", TEXTS)])
        with pytest.raises(StoreUnavailable, match="wait_replicas"):
            store.delete("doc-1")
        replica.start()
        poll("the replica back", lambda: replicas(primary) == 1)
        # applied on the primary meanwhile; now confirmed by the replica
        assert store.put([document("doc-2", TEXTS)]) == ["unchanged"]
        assert store.get("doc-1") is None  # the unconfirmed delete was applied too
        with replica.client() as client:
            assert client.dbsize() > 0
    with closing(open_redis(url.replace("wait_replicas=1", "wait_replicas=0"))) as plain:
        replica.stop()
        assert plain.put([document("doc-3", TEXTS)]) == ["created"]  # nobody waits


# The one-slot layout


def one_slot_namespace(server: RedisServer, name: str, scheme: str = FP.scheme) -> None:
    """What a namespace written by the previous version holds (three documents)."""
    prefix = f"paradup:{{{name}}}:".encode()
    with server.client() as client:
        client.hset(prefix + b"meta", mapping={"scheme": scheme, "bucket_bits": 14, "documents": 3})
        for n, texts in enumerate([TEXTS, TEXTS[:2], [TEXTS[1]]], start=1):
            seq = n.to_bytes(3, "big")
            metadata = json.dumps({"n": n})
            client.rpush(prefix + b"d" + seq, f"old-{n}", f"digest-{n}", metadata, *texts)
            client.hset(prefix + b"ids", f"old-{n}", seq)
            client.zadd(prefix + b"names", {f"old-{n}": 0})


def test_a_one_slot_namespace_is_refused_with_the_way_forward(redis_server: RedisServer) -> None:
    name = namespace()
    one_slot_namespace(redis_server, name)
    for create in ("", "&create=1"):
        with pytest.raises(StoreBroken, match=r"one-slot layout.*paradup migrate --from"):
            open_redis(f"{redis_server.url}?namespace={name}{create}")


def test_migrate_takes_the_fingerprints_the_one_slot_namespace_was_built_with(
    redis_server: RedisServer,
) -> None:
    """A namespace of the one-slot layout holds the default bands of its time
    (27 x 2, passages): migrated with today's defaults, it keeps them."""
    old, new = namespace(), namespace()
    two_rows = fingerprinter(Settings(lsh_threshold=0.4))
    one_slot_namespace(redis_server, old, two_rows.scheme)
    target = f"{redis_server.url}?namespace={new}&create=1"
    assert main(["migrate", "--from", f"{redis_server.url}?namespace={old}", "--to", target]) == 0
    service = Service.open(Settings(store=f"{redis_server.url}?namespace={new}"))
    try:
        assert service.fingerprinter.bands == (27, 2)
        (result, *_) = service.check(TEXTS[0])
        assert {m.document_id for m in result.matches} == {"old-1", "old-2"}
    finally:
        service.close()


def test_migrate_copies_a_one_slot_namespace(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = namespace(), namespace()
    one_slot_namespace(redis_server, old)
    source = f"{redis_server.url}?namespace={old}"
    target = f"{redis_server.url}?namespace={new}&create=1"
    monkeypatch.setattr("app.engine.fingerprint.fingerprinter", lambda settings: FP)
    assert main(["migrate", "--from", source, "--to", target]) == 0
    with closing(open_redis(f"{redis_server.url}?namespace={new}")) as store:
        assert (store.stats().documents, store.stats().paragraphs) == (3, 6)
        doc = store.get("old-1")
        assert doc is not None and doc.paragraphs == TEXTS and doc.metadata == {"n": 1}
        found = store.candidates(
            FP.split_keys(FP.band_keys(TEXTS[:1])[0])[0], np.empty(0, np.int64), CandidateRule(64, 0)
        )
        assert {p.document_id for p in found.paragraphs.values()} == {"old-1", "old-2"}
        # digests kept: the same version written again is unchanged
        same = NewDocument(
            "old-3", {"n": 3}, "digest-3", [NewParagraph(TEXTS[1], FP.band_keys(TEXTS[1:2])[0])]
        )
        assert store.put([same]) == ["unchanged"]
        assert [d.id for d in store.first_paragraphs("old-", 10)] == ["old-1", "old-2", "old-3"]
    with redis_server.client() as client:  # the source is left as it was
        assert client.hlen(f"paradup:{{{old}}}:ids") == 3
    assert main(["migrate", "--from", source, "--to", source]) == 2
