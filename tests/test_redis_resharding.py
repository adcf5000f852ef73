"""Slots move between the masters of a real Redis Cluster while checks and
ingests run: no request fails (redis-py follows MOVED and ASK; anything
else must be retried inside the store), no answer is wrong, and nothing
acknowledged is lost.

The moves are the ones an operator makes: the slots of the namespace moved
key by key the way ``redis-cli --cluster reshard`` does it (so that clients
meet a slot half migrated), ``redis-cli --cluster reshard`` itself, and
``redis-cli --cluster rebalance``. The namespace's slots are found from its
keys, so the test holds for any key layout (one slot, or a slot per shard).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis.crc import key_slot

from app.engine import DocumentInput, Service
from app.settings import Settings
from tests.cluster_traffic import Traffic, audit, text_of
from tests.redis_servers import RedisCluster, namespace, own_cluster

pytestmark = [pytest.mark.redis, pytest.mark.slow]  # a real cluster, slots moved under load


@pytest.fixture
def cluster(redis_workdir: Path) -> Iterator[RedisCluster]:
    """A cluster of each test's own: its slots end up elsewhere than they
    started (or, when a move fails, half moved)."""
    with own_cluster(redis_workdir) as cluster:
        yield cluster


@pytest.fixture
def ns() -> str:
    return namespace()


@pytest.fixture
def service(cluster: RedisCluster, ns: str) -> Iterator[Service]:
    svc = Service.open(Settings(store=f"{cluster.url}?namespace={ns}&create=1"))
    yield svc
    svc.close()


def seed(service: Service, count: int = 60) -> list[str]:
    base = [f"base-{i}" for i in range(count)]
    service.ingest([DocumentInput(d, text_of(d)) for d in base])
    return base


# Slots moved per round: all of a one-slot namespace, a few of a sharded one
# (the busiest ones, so that each move meets traffic whatever the shard count).
SLOTS_PER_ROUND = 4


def move_namespace(cluster: RedisCluster, ns: str) -> int:
    """The namespace's busiest slots, each to the next master; returns the keys moved."""
    masters = cluster.masters()
    counts = cluster.keys_per_slot(f"*{ns}*")
    moved = 0
    for slot in sorted(counts, key=lambda s: -counts[s])[:SLOTS_PER_ROUND]:
        owner = cluster.owner(slot)
        target = masters[(masters.index(next(m for m in masters if m.port == owner.port)) + 1) % len(masters)]
        moved += cluster.move_slot(slot, target, batch=10)
    return moved


def under_traffic(service: Service, base: list[str], moves: Callable[[Traffic], None]) -> list[str]:
    """Everything that went wrong while ``moves`` ran under traffic, and after."""
    problems = []
    with Traffic(service, base) as traffic:
        traffic.wait_for(writes=2, checks=2)
        try:
            moves(traffic)
        except RuntimeError as exc:  # a move that could not finish, SplitKey above all
            problems.append(f"move failed: {exc}")
    problems += [f"{n} x {f}" for f, n in traffic.failures.most_common(10)]
    problems += [f"wrong answer: {w}" for w in traffic.wrong[:10]]
    problems += audit(service, traffic, base)
    return problems


def test_moving_the_namespace_slots_key_by_key_fails_nothing(
    cluster: RedisCluster, service: Service, ns: str
) -> None:
    def moves(traffic: Traffic) -> None:
        for _ in range(3):
            assert move_namespace(cluster, ns) > 0
            traffic.wait_for(writes=2, checks=2)  # traffic between moves too

    problems = under_traffic(service, seed(service), moves)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


# redis-cli --cluster reshard takes a source's slots from its lowest up: the
# test moves this many, and names its namespace so that a namespace held in
# one slot has it among them (a sharded one has shards there anyway).
RESHARDED = 400


def early_namespace(cluster: RedisCluster) -> str:
    """A namespace whose own hash tag's slot is among the first RESHARDED of its master's."""
    starts = sorted(min(cluster.slots(m)) for m in cluster.masters())
    while True:
        ns = namespace()
        slot = key_slot(ns.encode())
        if slot - max(s for s in starts if s <= slot) < RESHARDED:
            return ns


def test_redis_cli_reshard_and_rebalance_fail_nothing(cluster: RedisCluster) -> None:
    ns = early_namespace(cluster)
    service = Service.open(Settings(store=f"{cluster.url}?namespace={ns}&create=1"))

    def moves(traffic: Traffic) -> None:
        # The first RESHARDED slots of the master holding most of them for
        # the namespace go to another master; then rebalance evens the
        # masters out again, moving slots back.
        slots = cluster.slots_of_keys(f"*{ns}*")
        first = {m.port: set(sorted(cluster.slots(m))[:RESHARDED]) for m in cluster.masters()}
        source = max(cluster.masters(), key=lambda m: len(slots & first[m.port]))
        target = next(m for m in cluster.masters() if m.port != source.port)
        cluster.reshard(source, target, RESHARDED)
        assert slots & first[source.port] <= cluster.slots(target)  # the namespace's moved with them
        traffic.wait_for(writes=2, checks=2)
        before = len(cluster.slots(target))
        cluster.rebalance()
        assert len(cluster.slots(target)) < before
        traffic.wait_for(writes=2, checks=2)

    try:
        problems = under_traffic(service, seed(service), moves)
    finally:
        service.close()
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
