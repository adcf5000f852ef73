"""A check's wave on a real 3-master cluster, written to every master from one
thread before any answer is read (redis_wave): a master that lost its
scripts, or every pooled connection, still answers the next check whole,
and the connections it leaves in the pools answer the check after that."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import numpy as np
import pytest

from app.store.base import CandidateRule, Candidates
from app.store.redis import RedisStore
from tests.redis_servers import RedisCluster
from tests.test_redis_shards import open_redis
from tests.test_store_contract import FP, TEXTS, document

pytestmark = [pytest.mark.redis, pytest.mark.slow]  # a real cluster

RULE = CandidateRule(64, 10, min_votes=2)


def ask(store: RedisStore) -> Candidates:
    keys = FP.band_keys(TEXTS)
    bands = np.concatenate([FP.split_keys(k)[0] for k in keys])
    prints = np.concatenate([FP.split_keys(k)[1] for k in keys])
    return store.candidates(bands, prints, RULE)


def one_trip_per_master(store: RedisStore) -> bool:
    before = store.round_trips()["check"]["per_master"]
    ask(store)
    after = store.round_trips()["check"]["per_master"]
    return len(after) == 3 and all(n - before.get(m, 0) == 1 for m, n in after.items())


@pytest.fixture
def stored(redis_cluster_url: str) -> Iterator[tuple[RedisStore, Candidates]]:
    """A store holding 40 copies of the article, and its first answer."""
    with closing(open_redis(redis_cluster_url)) as store:
        store.put([document(f"doc-{n}", TEXTS) for n in range(40)])
        first = ask(store)
        assert {p.document_id for p in first.paragraphs.values()} == {f"doc-{n}" for n in range(40)}
        # The filter copies' thread stopped: its waves share the pools, and
        # one of them meeting a killed connection drops the others it holds,
        # so a master could have none of the store's left to kill.
        store.checks.refresher.close()
        yield store, first


def test_masters_that_lost_their_scripts_answer_the_same(
    redis_cluster: RedisCluster, stored: tuple[RedisStore, Candidates]
) -> None:
    store, first = stored
    for master in redis_cluster.masters():
        with master.client() as client:
            client.script_flush()
    assert ask(store) == first
    assert "check again" not in store.round_trips()  # loaded and sent again, per master
    assert one_trip_per_master(store)


def test_connections_the_masters_dropped_are_replaced(
    redis_cluster: RedisCluster, stored: tuple[RedisStore, Candidates]
) -> None:
    store, first = stored
    for master in redis_cluster.masters():
        with master.client() as client:
            killed = client.client_kill_filter(_type="normal", skipme=True)
            assert killed >= 1  # the store's pooled connections among them
    # (the pools find a dropped connection when they hand it out, and connect again)
    assert ask(store) == first
    # No connection left with an answer unread: the next check reads its
    # own answers, one round trip per master.
    assert ask(store) == first
    assert one_trip_per_master(store)
