"""The per-shard filter of a Redis namespace: every record written sets its
bits, whichever way the write sets them, so a check that skips the buckets
of keys whose bits are clear misses nothing; a shard without a filter (made
before it existed) still reads every bucket, and a namespace of the one-bit
format (made before the blocked one) still opens, writes and answers."""

from __future__ import annotations

from contextlib import closing

import numpy as np
import pytest

from app.store.base import CandidateRule, StoreError
from app.store.redis import RedisStore
from app.store.redis_layout import local_refs
from tests.redis_servers import RedisServer
from tests.test_redis_shards import open_redis
from tests.test_store_contract import FP, document

pytestmark = [pytest.mark.redis, pytest.mark.slow]  # a real redis-server

RULE = CandidateRule(64, 10)


def texts(n: int) -> list[str]:
    return [
        f"Story {n}, part {p}: the harbour board met the ferry operators about berth {n * 7 + p} "
        f"and the winter timetable of route {n % 13}, which riders called late and crowded."
        for p in range(3)
    ]


def all_keys(store: RedisStore, docs: int) -> np.ndarray:  # type: ignore[type-arg]
    return np.concatenate([k for n in range(docs) for k in FP.band_keys(texts(n))])


def filter_bits(server: RedisServer, store: RedisStore, keys: np.ndarray) -> list[int]:  # type: ignore[type-arg]
    with server.client() as client:
        name = store.layout.prefixes[0] + b"f"
        return [int(client.getbit(name, int(o))) for o in store.layout.filter_offsets(keys).tolist()]


def test_every_record_sets_its_filter_bit_by_bits_or_by_bitmap(
    redis_server: RedisServer, redis_url: str
) -> None:
    # 2**10 buckets: a small filter (256 KB), so that a batch of 40 documents
    # ORs in a bitmap while a single document sets its bits one by one.
    with closing(open_redis(redis_url + "&bucket_bits=10")) as store:
        layout = store.layout
        one = [local_refs(1, FP.band_keys(texts(0)))]
        many = [local_refs(n, FP.band_keys(texts(n))) for n in range(1, 41)]
        assert layout.filter_change(one)[0] == "o"
        assert layout.filter_change(many)[0] == "b"
        store.put([document("doc-0", texts(0))])
        store.put([document(f"doc-{n}", texts(n)) for n in range(1, 41)])
        keys = all_keys(store, 41)
        assert set(filter_bits(redis_server, store, keys)) == {1}
        # Keys never written: most bits clear (a superset, not everything).
        other = np.concatenate(FP.band_keys(["An unrelated sentence about mountain goats and cheese."] * 1))
        assert 0 in filter_bits(redis_server, store, other)
        found = store.candidates(keys, keys[:0], RULE)
        assert {p.document_id for p in found.paragraphs.values()} == {f"doc-{n}" for n in range(41)}


def test_a_shard_without_a_filter_reads_every_bucket(redis_server: RedisServer, redis_url: str) -> None:
    with closing(open_redis(redis_url)) as store:
        meta = store.layout.metas[0]
        with redis_server.client() as client:
            assert client.hget(meta, "filter") == b"11x3w2g"
            # As a shard made before the filter: no flag, so writes set no
            # bits and checks read every bucket.
            client.hdel(meta, "filter")
        store.put([document(f"doc-{n}", texts(n)) for n in range(5)])
        with redis_server.client() as client:
            assert not client.exists(store.layout.prefixes[0] + b"f")
        keys = all_keys(store, 5)
        found = store.candidates(keys, keys[:0], RULE)
        assert {p.document_id for p in found.paragraphs.values()} == {f"doc-{n}" for n in range(5)}
        assert set(found.hits.as_dict()) == set(np.unique(keys).tolist())


def absent_keys() -> np.ndarray:  # type: ignore[type-arg]
    return np.random.default_rng(5).integers(-(2**63), 2**63 - 1, 4000, dtype=np.int64)


def passing(server: RedisServer, store: RedisStore, keys: np.ndarray) -> float:  # type: ignore[type-arg]
    """The share of ``keys`` that pass shard 0's filter, tested as a check does."""
    tests, masks = store.layout.filter_tests(keys)
    with server.client() as client:
        words = client.execute_command("BITFIELD_RO", store.layout.prefixes[0] + b"f", *tests)
    wanted = np.frombuffer(masks, ">u4").astype(np.int64)
    per = len(wanted) // keys.size  # filter words a key sets bits in
    held = ((np.array(words, np.int64) & wanted) == wanted).reshape(-1, per)
    return float(np.mean(held.all(axis=1)))


def to_one_bit_format(server: RedisServer, store: RedisStore) -> None:
    """Make an empty namespace look as one made before the blocked filter:
    its root under the old name, without a format; its shard's filter "10"."""
    with server.client() as client:
        client.rename(store.layout.root, store.layout.old_root)
        client.hdel(store.layout.old_root, "filter")
        client.hset(store.layout.metas[0], "filter", "10")


def test_a_one_bit_namespace_opens_writes_and_answers(redis_server: RedisServer, redis_url: str) -> None:
    base = redis_url.replace("&create=1", "")
    with closing(open_redis(redis_url + "&bucket_bits=9")) as store:
        to_one_bit_format(redis_server, store)
    with closing(open_redis(base)) as old, closing(open_redis(redis_url + "&bucket_bits=9")) as again:
        for store in (old, again):  # create=1 on it keeps its format too
            assert store.layout.filter.name == "10" and not store.layout.filter.blocked
        old.put([document(f"doc-{n}", texts(n)) for n in range(40)])
        keys = all_keys(old, 40)
        assert set(filter_bits(redis_server, old, keys)) == {1}
        found = again.candidates(keys, keys[:0], RULE)
        assert {p.document_id for p in found.paragraphs.values()} == {f"doc-{n}" for n in range(40)}
        one_bit = passing(redis_server, old, absent_keys())
    # The same documents in the blocked format: fewer absent keys pass.
    with closing(open_redis(redis_url.replace("namespace=", "namespace=b") + "&bucket_bits=9")) as blocked:
        blocked.put([document(f"doc-{n}", texts(n)) for n in range(40)])
        with redis_server.client() as client:
            # A replica of an older version finds no namespace by this name.
            assert not client.exists(blocked.layout.old_root)
        assert one_bit > 0 and passing(redis_server, blocked, absent_keys()) < one_bit / 2


@pytest.mark.parametrize("value", ["5", "15", "x"])
def test_filter_bits_out_of_range_are_refused(redis_url: str, value: str) -> None:
    with pytest.raises(StoreError, match="filter_bits"):
        open_redis(redis_url + f"&filter_bits={value}")


def test_filter_bits_are_fixed_by_the_creator(redis_server: RedisServer, redis_url: str) -> None:
    with closing(open_redis(redis_url + "&filter_bits=13")) as first:
        assert first.layout.filter.name == "13x3w2g"
    with closing(open_redis(redis_url + "&filter_bits=8")) as later:
        assert later.layout.filter.name == "13x3w2g"
        later.put([document("doc-0", texts(0))])
        keys = all_keys(later, 1)
        assert set(filter_bits(redis_server, later, keys)) == {1}
