"""app.store.redis_retry on a real cluster, a slot stopped half way through
its migration: what redis-py gives up on, the helper retries until the move
is finished; a write stopped inside its script is not retried."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis.exceptions as rex
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster as Client
from redis.crc import key_slot

from app.store.redis_retry import retrying
from tests.redis_servers import RedisCluster, RedisServer, namespace, own_cluster

pytestmark = [pytest.mark.redis, pytest.mark.slow]  # a real cluster, a slot moved

BOTH = "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}"
# Declares one key and reads another of the same slot, undeclared (as the
# store's scripts do), or writes it.
UNDECLARED_READ = "return {redis.call('GET', KEYS[1]), redis.call('GET', ARGV[1])}"
UNDECLARED_WRITE = "redis.call('SET', KEYS[1], 'written'); return redis.call('GET', ARGV[1])"


@pytest.fixture(scope="module")
def cluster(redis_workdir: Path) -> Iterator[RedisCluster]:
    with own_cluster(redis_workdir) as cluster:
        yield cluster


@pytest.fixture
def client(cluster: RedisCluster) -> Iterator[Client]:
    nodes = [ClusterNode("127.0.0.1", n.port) for n in cluster.nodes]  # type: ignore[no-untyped-call]
    with Client(startup_nodes=nodes) as opened:
        yield opened


def half_moved(cluster: RedisCluster, client: Client) -> tuple[bytes, bytes, int]:
    """Keys ``first`` and ``second`` of one slot, the slot migrating, ``first`` moved already."""
    tag = namespace()
    first, second = f"{{{tag}}}:first".encode(), f"{{{tag}}}:second".encode()
    client.set(first, b"1")
    client.set(second, b"2")
    slot = key_slot(first)
    source = cluster.owner(slot)
    target = other_master(cluster, slot)
    cluster.begin_move(slot, source, target)
    cluster.migrate(slot, source, target, [first])
    return first, second, slot


def other_master(cluster: RedisCluster, slot: int) -> RedisServer:
    return next(m for m in cluster.masters() if m.port != cluster.owner(slot).port)


def finisher(cluster: RedisCluster, slot: int, seen: list[BaseException]) -> Callable[[BaseException], None]:
    """An on_retry that finishes the move at the first refusal."""
    source, target = cluster.owner(slot), other_master(cluster, slot)

    def on_retry(exc: BaseException) -> None:
        if not seen:
            cluster.end_move(slot, source, target)
        seen.append(exc)

    return on_retry


def test_declared_keys_split_by_a_move_are_retried_until_it_ends(
    cluster: RedisCluster, client: Client
) -> None:
    first, second, slot = half_moved(cluster, client)
    # source: first is gone (ASK); target: second is not there yet (TRYAGAIN)
    with pytest.raises(rex.RedisError, match=r"TTL exhausted|TRYAGAIN"):
        client.eval(BOTH, 2, first, second)
    seen: list[BaseException] = []
    call = lambda: client.eval(BOTH, 2, first, second)  # noqa: E731
    assert retrying(call, True, on_retry=finisher(cluster, slot, seen)) == [b"1", b"2"]
    assert seen and all(isinstance(e, rex.RedisError) for e in seen)


def test_a_read_of_an_undeclared_moved_key_is_retried(cluster: RedisCluster, client: Client) -> None:
    first, second, slot = half_moved(cluster, client)
    # second declared and still on the source: the script runs there and
    # meets first, undeclared and gone
    with pytest.raises(rex.ResponseError, match="non local key"):
        client.eval(UNDECLARED_READ, 1, second, first)
    seen: list[BaseException] = []
    call = lambda: client.eval(UNDECLARED_READ, 1, second, first)  # noqa: E731
    assert retrying(call, True, on_retry=finisher(cluster, slot, seen)) == [b"2", b"1"]
    assert len(seen) >= 1


def test_a_write_stopped_inside_its_script_is_not_retried(cluster: RedisCluster, client: Client) -> None:
    first, second, slot = half_moved(cluster, client)
    seen: list[BaseException] = []
    with pytest.raises(rex.ResponseError, match="non local key"):
        retrying(lambda: client.eval(UNDECLARED_WRITE, 1, second, first), False, on_retry=seen.append)
    assert seen == []
    # what the script wrote before Redis stopped it stays: the reason not to retry
    cluster.end_move(slot, cluster.owner(slot), other_master(cluster, slot))
    assert client.get(second) == b"written"
