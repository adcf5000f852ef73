"""A master of a Redis Cluster with replicas is killed (SIGKILL) while
checks and ingests run through one Service, opened once: once a replica is
promoted they succeed again by themselves (no restart, no reopening), and
with ``wait_replicas=1`` no acknowledged document is lost, not even one
written while the replica was frozen and cut off just before its master died.

Only readiness is polled, with deadlines; nothing is timed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import DocumentInput, Service
from app.settings import Settings
from tests.cluster_traffic import Traffic, audit, text_of
from tests.redis_servers import RedisCluster, RedisServer, namespace, own_cluster, poll

pytestmark = [pytest.mark.redis, pytest.mark.slow]  # six redis-servers, one killed

# A replica takes over after its master was silent this long (milliseconds):
# short enough for a quick test, long enough that a busy machine does not
# fail over a healthy master.
NODE_TIMEOUT = 2000
WAIT = "wait_replicas=1&wait_timeout=1000"


@pytest.fixture
def cluster(redis_workdir: Path) -> Iterator[RedisCluster]:
    """Three masters with a replica each, for this test alone (one master dies)."""
    with own_cluster(redis_workdir, replicas=1, node_timeout=NODE_TIMEOUT) as cluster:
        yield cluster


def busiest(cluster: RedisCluster, ns: str) -> RedisServer:
    """The master holding the most of the namespace's keys."""
    counts = cluster.memory_usage(f"*{ns}*")
    port = max(counts, key=lambda p: counts[p]["keys"])
    return next(m for m in cluster.masters() if m.port == port)


def signal_node(node: RedisServer, sig: signal.Signals) -> None:
    assert node.proc is not None
    os.kill(node.proc.pid, sig)


def test_killing_a_master_loses_no_acknowledged_document(cluster: RedisCluster) -> None:
    ns = namespace()
    service = Service.open(Settings(store=f"{cluster.url}?namespace={ns}&create=1&{WAIT}"))
    try:
        base = [f"base-{i}" for i in range(40)]
        service.ingest([DocumentInput(d, text_of(d)) for d in base])
        victim = busiest(cluster, ns)
        (replica,) = cluster.replicas_of(victim)
        with Traffic(service, base) as traffic:
            traffic.wait_for(writes=3, checks=3)
            # Frozen, and cut off from its master (what the master sent before
            # stays in the replica's socket and reaches it when it wakes up),
            # the replica receives nothing more: what the master acknowledges
            # from now on exists on the master alone, unless the store waits
            # for the replica before acknowledging (WAIT).
            signal_node(replica, signal.SIGSTOP)
            try:
                with victim.client() as client:
                    client.execute_command("CLIENT KILL TYPE replica")
                attempts = len(traffic.attempted)
                # a few writes sent while the replica is frozen (each waits
                # for it, times out and is refused, or is acknowledged)
                poll("writes while the replica is frozen", lambda: len(traffic.attempted) >= attempts + 10)
                cluster.kill(victim)
            finally:
                signal_node(replica, signal.SIGCONT)
            cluster.wait_for_promotion(victim.port, [replica])
            # Recovery by itself: the same Service answers again.
            traffic.wait_for(writes=5, checks=5, deadline=60)
            answered = (traffic.writes, traffic.checks)
            traffic.wait_for(writes=5, checks=5, deadline=60)
        # During the failover a call may fail, as 503 'retry later' only.
        assert traffic.unavailable_only() == [], traffic.failures
        assert traffic.wrong == []
        assert audit(service, traffic, base) == []
        assert traffic.writes > answered[0] and traffic.checks > answered[1]
    finally:
        service.close()
