"""The per-shard filter of a Redis namespace: every record written sets its
bit, whichever way the write sets them, so a check that skips the buckets of
keys whose bit is clear misses nothing; a shard without a filter (made
before it existed) still reads every bucket."""

from __future__ import annotations

from contextlib import closing

import numpy as np
import pytest

from app.store.base import CandidateRule
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
    # 2**8 buckets: a small filter (32 KB), so that a batch of 40 documents
    # ORs in a bitmap while a single document sets its bits one by one.
    with closing(open_redis(redis_url + "&bucket_bits=8")) as store:
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
            assert client.hget(meta, "filter") == b"10"
            # As a shard made before the filter: no flag, so writes set no
            # bits and checks read every bucket.
            client.hdel(meta, "filter")
        store.put([document(f"doc-{n}", texts(n)) for n in range(5)])
        with redis_server.client() as client:
            assert not client.exists(store.layout.prefixes[0] + b"f")
        keys = all_keys(store, 5)
        found = store.candidates(keys, keys[:0], RULE)
        assert {p.document_id for p in found.paragraphs.values()} == {f"doc-{n}" for n in range(5)}
        assert set(found.hits) == set(np.unique(keys).tolist())
