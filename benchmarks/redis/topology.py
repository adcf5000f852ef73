"""What the Redis benchmark reads from the servers, the same way for one
redis-server and for the masters of a cluster: memory, commands served, and
how an index's keys and memory are spread over the masters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.redis_servers import RedisCluster, RedisServer, memory_usage

# Issue 14's targets: each master holds 33 % +- 5 % of an index.
SHARE_TOLERANCE = 0.05
SCRIPT_CALLS = {"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"}


@dataclass
class Topology:
    """A Redis deployment the benchmark started: its store URL base and its masters."""

    name: str
    url: str
    masters: Callable[[], list[RedisServer]]

    @classmethod
    def standalone(cls, server: RedisServer) -> Topology:
        return cls("standalone", server.url, lambda: [server])

    @classmethod
    def cluster(cls, cluster: RedisCluster) -> Topology:
        return cls(f"cluster-{len(cluster.masters())}-masters", cluster.url, cluster.masters)

    def store_url(self, namespace: str) -> str:
        return f"{self.url}?namespace={namespace}&create=1"

    def _per_master(self, section: str, field: str) -> dict[int, int]:
        out = {}
        for master in self.masters():
            with master.client() as client:
                info: Any = client.info(section)
                out[master.port] = int(info[field])
        return out

    def used_memory(self) -> int:
        return sum(self._per_master("memory", "used_memory").values())

    def calls(self) -> dict[int, int]:
        """Calls from clients each master has served so far, other than INFO:
        script calls (EVALSHA, FCALL...), each counted once; not the commands
        scripts run inside them, which INFO commandstats counts as GET, HGET..."""
        out = {}
        for master in self.masters():
            with master.client() as client:
                stats: Any = client.info("commandstats")
            scripts = sum(v["calls"] for k, v in stats.items() if k.removeprefix("cmdstat_") in SCRIPT_CALLS)
            out[master.port] = scripts
        return out

    def shares(self, namespace: str) -> dict[str, Any]:
        """Keys and MEMORY USAGE of the namespace's keys on each master, and
        each master's share of them."""
        found = memory_usage(self.masters(), f"*{namespace}*")
        per: dict[str, dict[str, float]] = {str(port): dict(m) for port, m in found.items()}
        total_keys = sum(p["keys"] for p in per.values()) or 1
        total_memory = sum(p["memory_usage"] for p in per.values()) or 1
        for p in per.values():
            p["key_share"] = round(p["keys"] / total_keys, 3)
            p["memory_share"] = round(p["memory_usage"] / total_memory, 3)
        fair = 1 / len(per)
        even = all(
            abs(p[s] - fair) <= SHARE_TOLERANCE for p in per.values() for s in ("key_share", "memory_share")
        )
        return {"masters": per, "even_within_5_points": even}


def calls_per_check(before: dict[int, int], after: dict[int, int], checks: int) -> dict[str, float]:
    """Script calls per check on each master. Calls sent in one pipeline
    count one by one: the round trips are at most this many."""
    return {str(port): round((after[port] - before[port]) / checks, 2) for port in after}
