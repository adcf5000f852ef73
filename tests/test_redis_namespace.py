"""A Redis namespace that vanished (FLUSHALL, deleted keys, a server
restarted empty) or lives on a Redis that evicts keys is refused: never
served as an empty index, never re-created by a write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.cli import main
from app.settings import Settings
from app.store import SchemeMismatch, StoreBroken, open_store, verify_store
from app.store.redis import RedisStore
from app.store.redis_layout import shard_of
from tests.redis_servers import RedisCluster, RedisServer, have_redis, namespace, start_server
from tests.test_store_contract import FP, TEXTS, document
from tests.test_store_redis import namespace_keys

pytestmark = [pytest.mark.redis, pytest.mark.slow]  # real redis-server processes

ARTICLE = "\n\n".join(TEXTS)


@pytest.fixture
def volatile_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of the test's own without persistence: a restart empties it."""
    if not have_redis():
        pytest.skip("redis-server is not installed (make system-deps installs it with apt)")
    server = start_server(tmp_path)
    yield server
    server.stop()


def open_redis(url: str, scheme: str = FP.scheme) -> RedisStore:
    store = open_store(url, FP.band_keys, scheme)
    assert isinstance(store, RedisStore)
    return store


def test_a_namespace_is_created_only_when_asked(redis_server: RedisServer) -> None:
    url = f"{redis_server.url}?namespace={namespace()}"
    with pytest.raises(StoreBroken, match=r"does not exist.*create=1"):
        open_redis(url)
    with redis_server.client() as client:
        assert client.keys(f"paradup:{{{url.rsplit('=', 1)[1]}}}:*") == []
    open_redis(url + "&create=1").close()
    later = open_redis(url)  # exists now: no option needed
    later.put([document("doc-1", TEXTS)])
    assert later.get("doc-1") is not None
    later.close()


def vanish(server: RedisServer, store: RedisStore, how: str) -> None:
    if how == "flushall":
        with server.client() as client:
            client.flushall()
    elif how == "restart":
        server.stop()
        server.start()  # same port, no persistence: empty
    else:
        store.client.delete(*namespace_keys(store))


def assert_refused_and_not_recreated(store: RedisStore) -> None:
    for call in (
        store.ping,
        store.stats,
        lambda: store.get("doc-1"),
        lambda: store.lookup(FP.band_keys(TEXTS[:1])[0]),
        lambda: store.put([document("doc-2", TEXTS)]),
        lambda: store.delete("doc-1"),
        lambda: store.first_paragraphs("", 10),
    ):
        with pytest.raises(StoreBroken, match="does not exist"):
            call()
    assert namespace_keys(store) == []


@pytest.mark.parametrize("how", ["flushall", "delete", "restart"])
def test_a_vanished_namespace_is_refused(volatile_server: RedisServer, how: str) -> None:
    with closing(open_redis(f"{volatile_server.url}?namespace={namespace()}&create=1")) as store:
        store.put([document("doc-1", TEXTS)])
        vanish(volatile_server, store, how)
        assert_refused_and_not_recreated(store)
        with pytest.raises(StoreBroken, match="does not exist"):
            open_redis(volatile_server.url + f"?namespace={store.namespace}")


def test_a_vanished_namespace_is_refused_on_a_cluster(redis_cluster_url: str) -> None:
    with closing(open_redis(redis_cluster_url)) as store:
        store.put([document("doc-1", TEXTS)])
        store.client.delete(*namespace_keys(store))
        assert_refused_and_not_recreated(store)


def test_http_answers_a_non_retryable_503_when_the_namespace_vanished(volatile_server: RedisServer) -> None:
    url = f"{volatile_server.url}?namespace={namespace()}&create=1"
    with TestClient(create_app(Settings(store=url))) as client:
        assert client.post("/ingest", json={"id": "doc-1", "text": ARTICLE}).status_code == 200
        assert client.post("/check", json={"text": ARTICLE}).json()["duplicate"] is True
        with volatile_server.client() as redis_client:
            redis_client.flushall()
            for response in (
                client.get("/ready"),
                client.get("/stats"),
                client.post("/check", json={"text": ARTICLE}),
                client.post("/ingest", json={"id": "doc-2", "text": ARTICLE}),
                client.delete("/documents/doc-1"),
            ):
                assert response.status_code == 503, response.text
                body = response.json()
                assert "does not exist" in body["detail"] and body["retryable"] is False
            assert redis_client.dbsize() == 0


def test_a_namespace_recreated_with_another_scheme_is_refused(redis_url: str) -> None:
    with closing(open_redis(redis_url)) as store:
        store.put([document("doc-1", TEXTS)])
        store.client.delete(*namespace_keys(store))
        open_redis(redis_url, FP.scheme + " other").close()  # create=1 in the fixture's URL
        for call in (store.ping, lambda: store.put([document("doc-2", TEXTS)])):
            with pytest.raises(StoreBroken, match="other fingerprint settings"):
                call()
        with pytest.raises(SchemeMismatch):
            open_redis(redis_url)


def test_documents_left_without_meta_are_not_adopted(redis_url: str) -> None:
    with closing(open_redis(redis_url)) as store:
        store.put([document("doc-1", TEXTS)])
        shard = shard_of("doc-1", store.layout.shards)
        store.client.delete(store.layout.metas[shard])
        with pytest.raises(StoreBroken, match="damaged"):
            open_redis(redis_url)
        assert not store.client.exists(store.layout.metas[shard])
        # the documents stay for an operator to restore or delete
        assert store.client.hlen(store.layout.prefixes[shard] + b"ids") == 1


# Eviction


def test_an_evicting_redis_is_refused_at_open(tmp_path: Path) -> None:
    if not have_redis():
        pytest.skip("redis-server is not installed (make system-deps installs it with apt)")
    server = start_server(tmp_path, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    try:
        with pytest.raises(StoreBroken, match=r"'allkeys-lru'.*noeviction"):
            open_redis(f"{server.url}?namespace={namespace()}&create=1")
    finally:
        server.stop()


def set_policy(server: RedisServer, policy: str) -> None:
    with server.client() as client:
        client.config_set("maxmemory-policy", policy)


def test_eviction_switched_on_later_makes_the_replica_unready(
    redis_server: RedisServer, redis_cluster: RedisCluster, redis_url: str, redis_cluster_url: str
) -> None:
    for url, node in ((redis_url, redis_server), (redis_cluster_url, redis_cluster.nodes[-1])):
        with TestClient(create_app(Settings(store=url))) as client:
            assert client.get("/ready").status_code == 200
            set_policy(node, "volatile-lru")
            try:
                ready = client.get("/ready")
                assert ready.status_code == 503
                assert "'volatile-lru'" in ready.json()["detail"] and ready.json()["retryable"] is False
            finally:
                set_policy(node, "noeviction")
            assert client.get("/ready").status_code == 200


def test_verify_reports_a_vanished_namespace_without_creating_it(redis_url: str) -> None:
    url = redis_url.replace("&create=1", "")
    with closing(open_redis(redis_url)) as store:
        store.put([document("doc-1", TEXTS)])
        # the CLI computes the scheme from the default settings, not the test's
        assert main(["verify", "--store", url]) == 2
        assert verify_store(url, FP.scheme) == []
        assert verify_store(redis_url, FP.scheme) == [
            "verify never creates a namespace: remove create= from the store URL"
        ]
        store.client.delete(*namespace_keys(store))
        (problem,) = verify_store(url, FP.scheme)
        assert "does not exist" in problem
        assert namespace_keys(store) == []
