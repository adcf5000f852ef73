"""Real redis-server processes and Redis Clusters for the Redis backend's tests.

Each pytest process (each xdist worker) starts its own servers on free
loopback ports in a temporary directory, so workers never share data or
ports; each test then gets a namespace of its own on them. The single
server is in tests/redis_procs.py (re-exported here); the clusters, with or
without replicas, and their slot moves and failovers are here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from tests.live_server import free_port
from tests.redis_procs import DEADLINE as DEADLINE
from tests.redis_procs import MISSING as MISSING
from tests.redis_procs import REDIS_CLI as REDIS_CLI
from tests.redis_procs import REDIS_SERVER as REDIS_SERVER
from tests.redis_procs import RedisServer as RedisServer
from tests.redis_procs import have_redis as have_redis
from tests.redis_procs import memory_usage as memory_usage
from tests.redis_procs import poll as poll
from tests.redis_procs import start_server as start_server

SLOT_MOVE_DEADLINE = 300.0  # bounds a hung redis-cli --cluster reshard
FAILOVER_DEADLINE = 60.0  # bounds a promotion that never happens


class SplitKey(RuntimeError):
    """A slot's migration met a key on the importing node that the source
    still holds: something wrote it there while it was being moved (a script
    that read the key as missing on the importing node, then created it).
    redis-cli --cluster reshard stops on it too (BUSYKEY), or, with
    --cluster-replace, overwrites that write with the source's copy."""

    def __init__(self, slot: int, keys: list[bytes], source: int, target: int) -> None:
        super().__init__(
            f"slot {slot} moving from {source} to {target}: both hold {keys!r} (MIGRATE answered BUSYKEY)"
        )


class RedisCluster:
    """Masters (three by default), each with ``replicas`` replicas, created
    with redis-cli --cluster create; helpers to move slots, kill a master and
    read what each master holds (see tests/test_redis_resharding.py)."""

    def __init__(self, workdir: Path, masters: int = 3, replicas: int = 0, node_timeout: int = 5000) -> None:
        self.workdir = workdir
        self.masters_wanted = masters
        self.replicas = replicas
        # How long a silent master takes to be failed over (and the replica promoted).
        self.node_timeout = node_timeout
        self.nodes: list[RedisServer] = []

    def start(self) -> RedisCluster:
        for _ in range(self.masters_wanted * (1 + self.replicas)):
            node_dir = Path(tempfile.mkdtemp(dir=self.workdir))
            options = {
                "--cluster-enabled": "yes",
                "--cluster-config-file": "nodes.conf",
                "--cluster-port": str(free_port()),
                "--cluster-node-timeout": str(self.node_timeout),
                # A master that gave all its slots away stays a master
                # (Redis 7 would make it a replica), so rebalance can refill it.
                "--cluster-allow-replica-migration": "no",
            }
            self.nodes.append(start_server(node_dir, *(x for pair in options.items() for x in pair)))
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        create = [REDIS_CLI, "--cluster", "create", *addresses, "--cluster-replicas", str(self.replicas)]
        self._cli(*create[1:], "--cluster-yes")
        poll("redis cluster", self._ok)
        return self

    def _cli(self, *args: str) -> str:
        done = subprocess.run(
            [REDIS_CLI, *args], capture_output=True, text=True, timeout=SLOT_MOVE_DEADLINE, check=False
        )
        if done.returncode != 0 or "[ERR]" in done.stdout:
            raise RuntimeError(f"redis-cli {' '.join(args)} failed: {done.stdout[-2000:]} {done.stderr}")
        return done.stdout

    @property
    def live(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    def _ok(self) -> bool:
        """Every live node says the cluster is ok, knows the same masters,
        and every replica is in sync with its master."""
        views = set()
        for node in self.live:
            with node.client() as client:
                # redis-py parses CLUSTER INFO into a dict of strings
                if client.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                    return False
                info = client.info("replication")
                if info["role"] == "slave" and info.get("master_link_status") != "up":
                    return False
                views.add(tuple(sorted(self._masters_seen(client))))
        return len(views) == 1 and len(next(iter(views))) == self.masters_wanted

    @staticmethod
    def _slot_map(client: redis.Redis) -> dict[int, set[int]]:
        """The slots of each healthy master (by port), as one node sees them;
        a slot being migrated counts for the node that still owns it."""
        found: dict[int, set[int]] = {}
        # redis-py parses CLUSTER NODES into {address: fields}
        nodes: dict[str, dict[str, Any]] = client.execute_command("CLUSTER NODES")  # type: ignore[no-untyped-call]
        for address, node in nodes.items():
            if "master" not in node["flags"] or "fail" in node["flags"] or not node["slots"]:
                continue
            slots = found.setdefault(int(address.rsplit(":", 1)[1]), set())
            for bounds in node["slots"]:
                slots.update(range(int(bounds[0]), int(bounds[-1]) + 1))
        return found

    def _masters_seen(self, client: redis.Redis) -> list[int]:
        return sorted(self._slot_map(client))

    def wait_ok(self, deadline: float = FAILOVER_DEADLINE) -> None:
        poll("redis cluster state ok", self._ok, deadline)

    def node_id(self, node: RedisServer) -> str:
        with node.client() as client:
            return str(client.execute_command("CLUSTER MYID").decode())

    def masters(self) -> list[RedisServer]:
        """The live masters holding slots, in port order."""
        with self.live[0].client() as client:
            ports = set(self._slot_map(client))
        return sorted((n for n in self.live if n.port in ports), key=lambda n: n.port)

    def replicas_of(self, master: RedisServer) -> list[RedisServer]:
        out = []
        for node in self.live:
            with node.client() as client:
                info = client.info("replication")
            if info["role"] == "slave" and int(info["master_port"]) == master.port:
                out.append(node)
        return out

    def slots(self, master: RedisServer) -> set[int]:
        with master.client() as client:
            return self._slot_map(client).get(master.port, set())

    def owner(self, slot: int) -> RedisServer:
        with self.live[0].client() as client:
            ports = [port for port, slots in self._slot_map(client).items() if slot in slots]
        if len(ports) != 1:
            raise RuntimeError(f"slot {slot} is served by {ports}")
        return next(n for n in self.live if n.port == ports[0])

    def slots_of_keys(self, pattern: str) -> set[int]:
        """The slots of every key matching ``pattern`` (whatever the key layout)."""
        return set(self.keys_per_slot(pattern))

    def keys_per_slot(self, pattern: str) -> dict[int, int]:
        """How many keys matching ``pattern`` each slot holds."""
        found: dict[int, int] = {}
        for master in self.masters():
            with master.client() as client:
                for key in client.scan_iter(match=pattern, count=1000):
                    slot = key_slot(key)
                    found[slot] = found.get(slot, 0) + 1
        return found

    def move_slot(self, slot: int, target: RedisServer, batch: int = 10) -> int:
        """Migrate one slot to ``target`` the way redis-cli --cluster reshard
        does (IMPORTING, MIGRATING, MIGRATE ``batch`` keys at a time, then
        NODE everywhere), so that clients meet ASK and TRYAGAIN while it runs.
        Returns the number of keys moved."""
        source = self.owner(slot)
        if source.port == target.port:
            return 0
        self.begin_move(slot, source, target)
        return self.end_move(slot, source, target, batch)

    def begin_move(self, slot: int, source: RedisServer, target: RedisServer) -> None:
        """The slot is importing on ``target``, migrating on ``source``; no key moved yet."""
        with target.client() as dst:
            dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", self.node_id(source))
        with source.client() as src:
            src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", self.node_id(target))

    def migrate(self, slot: int, source: RedisServer, target: RedisServer, keys: list[bytes]) -> None:
        with source.client() as src, target.client() as dst:
            try:
                done = src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 10_000, "KEYS", *keys)
            except redis.ResponseError as exc:
                if "BUSYKEY" not in str(exc):
                    raise
                raise SplitKey(slot, self._both_hold(dst, keys), source.port, target.port) from None
        if done not in (b"OK", "OK", True):
            raise RuntimeError(f"MIGRATE of slot {slot} answered {done!r}")

    def end_move(self, slot: int, source: RedisServer, target: RedisServer, batch: int = 10) -> int:
        """The slot's remaining keys, ``batch`` at a time, then the slot, to ``target``."""
        moved = 0
        with source.client() as src:
            # redis-py decodes the key names it lists, replacing the bytes
            # that are not UTF-8: the bucket keys' names must stay bytes.
            src.set_response_callback("CLUSTER GETKEYSINSLOT", lambda r, **_: r)
            while keys := src.execute_command("CLUSTER GETKEYSINSLOT", slot, batch):
                self.migrate(slot, source, target, keys)
                moved += len(keys)
        target_id = self.node_id(target)
        for node in (target, source, *self.masters()):
            with node.client() as client:
                client.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
        return moved

    @staticmethod
    def _both_hold(importing: redis.Redis, keys: list[bytes]) -> list[bytes]:
        """Which of ``keys`` (still on the source) the importing node holds too."""
        with importing.pipeline(transaction=False) as pipe:
            for key in keys:
                # else the importing node answers MOVED
                pipe.execute_command("ASKING")  # type: ignore[no-untyped-call]
                pipe.exists(key)
            found = pipe.execute()
        return [key for key, n in zip(keys, found[1::2], strict=True) if n]

    def reshard(self, source: RedisServer, target: RedisServer, count: int) -> str:
        """redis-cli --cluster reshard: ``count`` slots from source to target."""
        return self._cli(
            "--cluster", "reshard", f"127.0.0.1:{source.port}",
            "--cluster-from", self.node_id(source), "--cluster-to", self.node_id(target),
            "--cluster-slots", str(count), "--cluster-yes",
        )  # fmt: skip

    def rebalance(self) -> str:
        """redis-cli --cluster rebalance: every master gets its share of slots."""
        seed = f"127.0.0.1:{self.masters()[0].port}"
        return self._cli("--cluster", "rebalance", seed, "--cluster-use-empty-masters")

    def kill(self, node: RedisServer) -> None:
        """SIGKILL: no shutdown, no last words to the replicas."""
        assert node.proc is not None
        node.proc.kill()
        node.proc.wait()
        node.proc = None

    def kill_master(self, master: RedisServer) -> RedisServer:
        """Kill a master and wait until one of its replicas took over its
        slots and every live node says the cluster is ok; returns that replica."""
        replicas = self.replicas_of(master)
        if not replicas:
            raise RuntimeError(f"master {master.port} has no replica to promote")
        self.kill(master)
        return self.wait_for_promotion(master.port, replicas)

    def wait_for_promotion(self, port: int, replicas: list[RedisServer]) -> RedisServer:
        """Until one of ``replicas`` of the dead master on ``port`` serves its
        slots and the cluster is ok again; returns it."""

        def promoted() -> RedisServer | None:
            ports = {m.port for m in self.masters()}
            return next((r for r in replicas if r.port in ports), None)

        poll(
            f"promotion of a replica of {port}",
            lambda: promoted() is not None and self._ok(),
            FAILOVER_DEADLINE,
        )
        found = promoted()
        assert found is not None
        return found

    def memory_usage(self, pattern: str) -> dict[int, dict[str, int]]:
        return memory_usage(self.masters(), pattern)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@contextmanager
def own_cluster(workdir: Path, replicas: int = 0, node_timeout: int = 5000) -> Iterator[RedisCluster]:
    """A cluster for the tests that change its layout (slots moved, a master
    killed), started in a directory of its own under ``workdir``."""
    if not have_redis():
        pytest.skip(MISSING)
    started = RedisCluster(Path(tempfile.mkdtemp(dir=workdir)), replicas=replicas, node_timeout=node_timeout)
    try:
        yield started.start()
    finally:
        started.stop()


def namespace() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"t-{worker}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def redis_workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="paradup-redis-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(redis_workdir: Path) -> Iterator[RedisServer]:
    if not have_redis():
        pytest.skip(MISSING)
    server = start_server(Path(tempfile.mkdtemp(dir=redis_workdir)))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(redis_workdir: Path) -> Iterator[RedisCluster]:
    if not have_redis():
        pytest.skip(MISSING)
    cluster = RedisCluster(redis_workdir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


# The servers live for the session; the URLs are per test because each test
# gets a fresh namespace (the contract tests assume an empty index).
@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return f"{redis_server.url}?namespace={namespace()}&create=1"


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    return f"{redis_cluster.url}?namespace={namespace()}&create=1"
