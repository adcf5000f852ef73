"""A client's copies of its shard filters (redis_filter_cache): a check with
current copies asks no shard to test its filter, answers exactly as one
without copies, and a write by another client is found by the very next
check (the shard's generation moved, so it tests on the server again)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.store.base import CandidateRule, StoreError
from app.store.redis import RedisStore
from app.store.redis_filter import FilterFormat
from app.store.redis_filter_cache import FilterCache
from tests.redis_servers import RedisCluster, RedisServer, poll
from tests.test_redis_filter import all_keys, texts
from tests.test_redis_shards import open_redis
from tests.test_store_contract import FP, document

RULE = CandidateRule(64, 10)


@given(
    bitmap=st.binary(min_size=0, max_size=64),
    per=st.sampled_from([1, 2]),
    tests=st.lists(st.tuples(st.integers(0, 15), st.integers(1, 2**32 - 1)), max_size=40),
)
def test_a_copy_passes_exactly_the_queries_whose_words_hold_every_mask_bit(
    bitmap: bytes, per: int, tests: list[tuple[int, int]]
) -> None:
    tests = tests[: len(tests) // per * per]  # whole queries of ``per`` words
    cache = FilterCache(1, 64)
    cache.put(0, b"7", bitmap)
    word = np.array([w for w, _ in tests], np.intp).reshape(-1, per)
    mask = np.array([m for _, m in tests], np.uint32).reshape(-1, per)
    generation, passed = cache.passing(word, mask)[0]
    padded = bitmap + bytes(64 - len(bitmap))  # beyond the string: zeros

    def holds(w: int, m: int) -> bool:
        return int.from_bytes(padded[4 * w : 4 * w + 4], "big") & m == m

    expected = [q for q in range(len(tests) // per) if all(holds(*t) for t in tests[q * per : q * per + per])]
    assert generation == b"7"
    assert np.frombuffer(passed, ">u4").tolist() == expected


@given(
    bitmaps=st.lists(st.binary(min_size=0, max_size=32), min_size=1, max_size=5),
    tests=st.lists(st.tuples(st.integers(0, 7), st.integers(1, 2**32 - 1)), max_size=30),
    refilled=st.integers(0, 4),
)
def test_all_shards_at_once_pass_what_each_shard_alone_passes(
    bitmaps: list[bytes], tests: list[tuple[int, int]], refilled: int
) -> None:
    # passing() tests every shard in one stacked matrix: it must answer, shard
    # by shard, as a cache holding that shard alone, and follow a new copy.
    word = np.array([w for w, _ in tests], np.intp).reshape(-1, 1)
    mask = np.array([m for _, m in tests], np.uint32).reshape(-1, 1)
    cache = FilterCache(len(bitmaps), 32)
    for shard, bitmap in enumerate(bitmaps):
        cache.put(shard, str(shard).encode(), bitmap)
    cache.passing(word, mask)  # stacked once, before one copy changes
    shard = refilled % len(bitmaps)
    bitmaps[shard] = bytes(b ^ 0xFF for b in bitmaps[shard])
    cache.put(shard, b"new", bitmaps[shard])
    together = cache.passing(word, mask)
    assert set(together) == set(range(len(bitmaps)))
    for shard, bitmap in enumerate(bitmaps):
        alone = FilterCache(1, 32)
        alone.put(0, together[shard][0], bitmap)
        assert together[shard] == alone.passing(word, mask)[0]
    assert together[refilled % len(bitmaps)][0] == b"new"


def test_a_shard_without_a_generation_is_not_copied() -> None:
    cache = FilterCache(2, 8)
    cache.put(0, b"1", b"\xff" * 8)
    cache.put(1, b"1", b"\xff" * 8)
    cache.put(1, None, b"\xff" * 8)
    assert set(cache.passing(np.zeros((1, 1), np.intp), np.ones((1, 1), np.uint32))) == {0}


def test_the_versioned_format_is_named_and_parsed() -> None:
    found = FilterFormat.parse("11x3g")
    assert found.versioned and found.name == "11x3g" and found.bits == 11 and found.words == 1
    two = FilterFormat.parse("11x3w2g")
    assert two.versioned and two.words == 2 and two.hashes == 3 and two.name == "11x3w2g"
    assert not FilterFormat.parse("11x3").versioned
    for bad in ("10g", "11x3gg", "11xg", "11x3w3g", "10w2", "11x3wg", "11x3w1g"):
        with pytest.raises(StoreError):
            FilterFormat.parse(bad)


def server_tests(nodes: Iterable[RedisServer]) -> int:
    """BITFIELD_RO calls so far on these servers: a shard testing its filter."""
    total = 0
    for node in nodes:
        with node.client() as client:
            stats = client.info("commandstats")
            total += int(stats.get("cmdstat_bitfield_ro", {}).get("calls", 0))
    return total


def answer(store: RedisStore, keys: np.ndarray) -> tuple[dict[int, list[int]], set[str]]:  # type: ignore[type-arg]
    found = store.candidates(keys, keys[:0], RULE)
    return found.hits.as_dict(), {p.document_id for p in found.paragraphs.values()}


def refresh_all(store: RedisStore) -> None:
    for shard in range(store.layout.shards):
        store.checks.refresher.refresh(shard)


def exercise(store: RedisStore, other: RedisStore, nodes: list[RedisServer]) -> None:
    # Copies only as the test reads them (the thread would race the counts).
    store.checks.refresher.close()
    store.put([document(f"doc-{n}", texts(n)) for n in range(30)])
    # Fewer than 400 queries (two filter words each): one BITFIELD_RO a
    # shard that tests.
    keys = np.concatenate([all_keys(store, 30)[::8], all_keys(store, 40)[-60:]])  # some absent
    assert np.unique(keys).size < 400
    before = server_tests(nodes)
    without = answer(store, keys)  # no copies yet: every shard tests on the server
    assert server_tests(nodes) - before == store.layout.shards
    refresh_all(store)
    before = server_tests(nodes)
    assert answer(store, keys) == without
    assert server_tests(nodes) == before  # every shard took the client's list
    assert without[1] == {f"doc-{n}" for n in range(30)}

    # Another client writes: the next check finds it, testing on the server
    # where the generation moved (the shard that took the document).
    other.put([document("doc-new", texts(77))])
    new_keys = np.concatenate(FP.band_keys(texts(77)))
    assert np.unique(new_keys).size < 400
    before = server_tests(nodes)
    assert "doc-new" in answer(store, new_keys)[1]
    assert server_tests(nodes) - before == 1
    refresh_all(store)
    before = server_tests(nodes)
    assert "doc-new" in answer(store, new_keys)[1]
    assert server_tests(nodes) == before

    # Emptied shards drop their filter; refilled, their copies are behind.
    for n in range(30):
        other.delete(f"doc-{n}")
    other.delete("doc-new")
    other.put([document("doc-again", texts(3))])
    assert answer(store, all_keys(store, 4))[1] == {"doc-again"}


def test_copies_answer_as_the_server_and_follow_other_writers(
    redis_server: RedisServer, redis_url: str
) -> None:
    base = redis_url.replace("&create=1", "")
    with (
        closing(open_redis(redis_url + "&shards=4&bucket_bits=9")) as store,
        closing(open_redis(base)) as other,
    ):
        assert store.layout.filter.name == "11x3w2g"
        exercise(store, other, [redis_server])


def test_copies_on_a_cluster(redis_cluster: RedisCluster, redis_cluster_url: str) -> None:
    base = redis_cluster_url.replace("&create=1", "")
    with closing(open_redis(redis_cluster_url + "&shards=8")) as store, closing(open_redis(base)) as other:
        exercise(store, other, redis_cluster.masters())


def test_the_thread_reads_every_shard_after_the_first_check(redis_url: str) -> None:
    with closing(open_redis(redis_url + "&shards=4&bucket_bits=9")) as store:
        store.put([document(f"doc-{n}", texts(n)) for n in range(5)])
        assert all(store.checks.filters.generation(s) is None for s in range(4))
        answer(store, all_keys(store, 5))
        poll("filter copies", lambda: all(store.checks.filters.generation(s) is not None for s in range(4)))


def test_a_namespace_without_generations_tests_on_the_server(
    redis_server: RedisServer, redis_url: str
) -> None:
    made = closing(open_redis(redis_url + "&shards=2&bucket_bits=9"))
    with made as store, redis_server.client() as client:
        # As made by the version before copies: format "11x3".
        for key in (store.layout.root, *store.layout.metas):
            client.hset(key, "filter", "11x3")
    with closing(open_redis(redis_url.replace("&create=1", ""))) as old:
        old.checks.refresher.close()  # it would not copy anyway; closed, it cannot race the counts
        assert old.layout.filter.name == "11x3"
        old.put([document(f"doc-{n}", texts(n)) for n in range(10)])
        before = server_tests([redis_server])
        keys = all_keys(old, 10)
        assert np.unique(keys).size < 800
        assert answer(old, keys)[1] == {f"doc-{n}" for n in range(10)}
        assert answer(old, keys)[1] == {f"doc-{n}" for n in range(10)}
        assert server_tests([redis_server]) - before == 4
