"""One wave of shard scripts: one call per shard, pipelined per master and
sent to every master at once (a read wave writes every master's requests
from the calling thread, then reads their answers; a write wave has a
thread per master, each ending with its WAIT).

A cluster's slots may move while a wave is out (resharding) or a master
fail over: a shard whose call is redirected (MOVED, ASK) or whose master
does not answer is sent again after the slot map is refreshed, to the node
that now serves it, a few times before the wave gives up. With
``wait_replicas``, each master's pipeline of writes ends with ``WAIT`` on
the same connection, so the acknowledgement covers exactly those writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis
import redis.exceptions as rex
from redis.cluster import ClusterNode, RedisCluster

from app.store.base import StoreUnavailable
from app.store.redis_client import Client

# A shard sent again after a redirect or a lost master, at most this often,
# pausing a little longer each time (at most MAX_PAUSE): a slot being
# migrated has its keys on two nodes until its last key moved, and a failover
# takes a few seconds; the wave gives up (503) after REDIRECTS attempts or
# BUDGET seconds. A standalone server is not asked again: redis-py's own
# retries already cover a dropped connection.
REDIRECTS = 40
PAUSE = 0.05
MAX_PAUSE = 0.25
BUDGET = 10.0
Args = Sequence[bytes | str | int]


@dataclass
class _Group:
    node: ClusterNode | None  # None: the standalone server
    asking: bool  # each call preceded by ASKING (the slot is being imported there)
    calls: list[Call]


@dataclass
class _Sent:
    """A connection taken from its pool with requests written on it."""

    pool: Any  # redis-py's pools and connections are untyped
    connection: Any
    released: bool = False

    def release(self, drop: bool) -> None:
        if drop:
            self.connection.disconnect()
        self.pool.release(self.connection)
        self.released = True


@dataclass(frozen=True)
class Call:
    shard: int
    key: bytes  # the shard's meta key: KEYS[1], and what routes the call
    args: Args
    # The other keys the script touches, declared after ``key`` (on a
    # cluster): Redis then refuses the call up front (ASK, TRYAGAIN) while
    # they are split by a slot migration, instead of the script meeting a
    # key that already left mid-way.
    keys: tuple[bytes, ...] = ()


class Waves:
    def __init__(
        self,
        client: Client,
        sources: Mapping[str, str],
        wait_replicas: int,
        wait_timeout: int,
        declared: frozenset[str] = frozenset(),
    ) -> None:
        self.client = client
        # The scripts that declare every key they touch (see Call.keys). Only
        # they follow ASK to the importing node: there, a key not moved yet
        # reads as missing and a key written makes its migration fail
        # (BUSYKEY), which Redis prevents only for declared keys (TRYAGAIN).
        # The others wait on the migrating node, which stops them ("non local
        # key", harmless for reads) until the slot has moved.
        self.declared = declared
        self.cluster = isinstance(client, RedisCluster)
        self.sources = dict(sources)
        # Loaded on a master when it first answers NOSCRIPT.
        self.shas = {name: _sha(source) for name, source in sources.items()}
        self.wait_replicas = wait_replicas
        self.wait_timeout = wait_timeout
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # Round trips to each master, per kind of wave (store stats).
        self.trips: dict[str, Counter[str]] = {}
        self.waves: Counter[str] = Counter()

    def run(self, script: str, calls: Sequence[Call], kind: str, write: bool = False) -> dict[int, Any]:
        """Every call's result by shard; redis-py's error of a call that did
        not succeed is raised (after the other calls finished)."""
        results: dict[int, Any] = {}
        pending = list(calls)
        asking: dict[int, ClusterNode] = {}
        failure: Exception | None = None
        with self._lock:
            self.waves[kind] += 1
        deadline = time.monotonic() + BUDGET
        for attempt in range(REDIRECTS):
            groups = self._by_node(pending, asking)
            answers = self._send(script, groups, kind, write)
            pending, refresh = [], False
            for group, answer in zip(groups.values(), answers, strict=True):
                for call, result in zip(group.calls, answer, strict=True):
                    if not isinstance(result, Exception):
                        results[call.shard] = result
                        continue
                    asking.pop(call.shard, None)
                    if not self.cluster or time.monotonic() > deadline:
                        raise result
                    if _asked(result):
                        assert isinstance(result, rex.AskError)
                        target = self._node(result.host, result.port)
                        if script in self.declared and target is not None:
                            asking[call.shard] = target
                        else:
                            refresh = True
                    elif _moving(result) and not (write and _non_local(result)):
                        # A write stopped mid-way may be half applied: never
                        # sent again (writes declare their keys, so Redis
                        # refuses them before they start instead).
                        refresh = True
                    else:
                        raise result
                    pending.append(call)
                    failure = result
            if not pending:
                return results
            # Every attempt pauses a little longer: a slot in motion (ASK,
            # TRYAGAIN) stays so until its last key moved.
            time.sleep(min(MAX_PAUSE, PAUSE * attempt))
            if refresh and isinstance(self.client, RedisCluster):
                # If this fails, the next attempt fails again or the wave gives up.
                with contextlib.suppress(rex.RedisError, OSError):
                    self.client.nodes_manager.initialize()
        assert failure is not None
        raise failure

    def run_grouped(
        self, script: str, calls: Sequence[Call], common: Args, tail: Args, kind: str
    ) -> dict[int, Any]:
        """One call per master for all the shards it holds (``script`` takes
        ``common``, the shard count, each call's arguments, ``tail``; every
        call has as many);
        a master whose call failed for a slot in motion or a lost connection
        has each of its shards sent on its own (``run``)."""
        with self._lock:
            self.waves[kind] += 1
        groups = self._by_node(calls, {})
        merged = {
            name: _Group(
                g.node,
                False,
                [
                    Call(
                        g.calls[0].shard,
                        g.calls[0].key,
                        [*common, len(g.calls), *(a for c in g.calls for a in c.args), *tail],
                    )
                ],
            )
            for name, g in groups.items()
        }
        answers = self._send(script, merged, kind, False)
        results: dict[int, Any] = {}
        again: list[Call] = []
        for group, (answer,) in zip(groups.values(), answers, strict=True):
            if isinstance(answer, Exception):
                if not _moving(answer):
                    raise answer
                again += group.calls
            else:
                results.update(zip((c.shard for c in group.calls), answer, strict=True))
        if again:
            singles = [Call(c.shard, c.key, [*common, 1, *c.args, *tail]) for c in again]
            results.update({s: r[0] for s, r in self.run(script, singles, kind + " again").items()})
        return results

    def _node(self, host: str, port: int) -> ClusterNode | None:
        assert isinstance(self.client, RedisCluster)
        node = self.client.get_node(host=host, port=port)  # type: ignore[no-untyped-call]
        return node if isinstance(node, ClusterNode) else None

    def _by_node(self, calls: Sequence[Call], asking: Mapping[int, ClusterNode]) -> dict[str, _Group]:
        groups: dict[str, _Group] = {}
        for call in calls:
            node: ClusterNode | None = None
            ask = call.shard in asking
            if isinstance(self.client, RedisCluster):
                node = asking[call.shard] if ask else self.client.get_node_from_key(call.key)  # type: ignore[no-untyped-call]
            name = ("ask " if ask else "") + ("redis" if node is None else str(node.name))
            groups.setdefault(name, _Group(node, ask, [])).calls.append(call)
        return groups

    def _send(self, script: str, groups: Mapping[str, _Group], kind: str, write: bool) -> list[list[Any]]:
        jobs = list(groups.values())
        if len(jobs) == 1:
            return [self._pipeline(script, jobs[0], kind, write)]
        if not write and not any(g.asking for g in jobs):
            return self._send_reads(script, jobs, kind)
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="paradup-redis")
        # The calling thread sends the first master's calls itself: one
        # thread hop fewer per wave, and it would only wait otherwise.
        futures = [self._pool.submit(self._pipeline, script, group, kind, write) for group in jobs[1:]]
        first = self._pipeline(script, jobs[0], kind, write)
        return [first, *(f.result() for f in futures)]

    def _send_reads(self, script: str, jobs: Sequence[_Group], kind: str) -> list[list[Any]]:
        """Reads to several masters from this thread: every request written,
        then every answer read, so the masters work at once as with a thread
        per master, without a thread hop and its wait for the GIL per master
        (most of a check's client time on a cluster went to them). A master
        missing the script gets its calls again through ``_pipeline``."""
        sent: list[_Sent | Exception] = []
        try:
            for group in jobs:
                sent.append(self._write_reads(script, group))
            return [
                self._read_answers(script, group, job, kind) for group, job in zip(jobs, sent, strict=True)
            ]
        finally:
            # Released once, after its last answer was read: a connection
            # left with answers unread would mix them into the next command's.
            for job in sent:
                if not isinstance(job, Exception) and not job.released:
                    job.release(drop=True)

    def _write_reads(self, script: str, group: _Group) -> _Sent | Exception:
        # Made before a connection is taken: nothing between taking and
        # ``_Sent`` can raise and leave it out of its pool.
        commands = [
            ("EVALSHA", self.shas[script], 1 + len(c.keys), c.key, *c.keys, *c.args) for c in group.calls
        ]
        try:
            pool = self._connection(group.node).connection_pool
            connection: Any = pool.get_connection()
        except (rex.RedisError, OSError) as exc:
            return exc
        job = _Sent(pool, connection)
        try:
            connection.send_packed_command(connection.pack_commands(commands))
        except BaseException as exc:
            job.release(drop=True)
            if isinstance(exc, _RETRIED):
                return exc
            raise
        return job

    def _read_answers(self, script: str, group: _Group, job: _Sent | Exception, kind: str) -> list[Any]:
        if isinstance(job, Exception):
            return [job] * len(group.calls)
        answer: list[Any] = []
        try:
            for _ in group.calls:
                try:
                    answer.append(job.connection.read_response())
                except rex.ResponseError as exc:
                    answer.append(exc)
        except _RETRIED as exc:
            # The connection's stream is lost mid-way: its answers too.
            job.release(drop=True)
            answer = [exc] * len(group.calls)
        else:
            job.release(drop=False)
        if any(isinstance(a, rex.NoScriptError) for a in answer):
            return self._pipeline(script, group, kind, False)  # which counts its own trip
        name = "redis" if group.node is None else str(group.node.name)
        with self._lock:
            self.trips.setdefault(kind, Counter())[name] += 1
        return answer

    def _connection(self, node: ClusterNode | None) -> redis.Redis:
        if node is None:
            assert isinstance(self.client, redis.Redis)
            return self.client
        assert isinstance(self.client, RedisCluster)
        connection = self.client.get_redis_connection(node)
        assert isinstance(connection, redis.Redis)
        return connection

    def _pipeline(self, script: str, group: _Group, kind: str, write: bool) -> list[Any]:
        """One round trip to one master: the calls (and WAIT), each call's
        result or its exception."""
        calls = group.calls
        name = "redis" if group.node is None else str(group.node.name)
        waiting = write and self.wait_replicas > 0
        try:
            connection = self._connection(group.node)
        except (rex.RedisError, OSError) as exc:
            return [exc] * len(calls)
        answer: list[Any] = []
        for loaded in (False, True):
            pipe = connection.pipeline(transaction=False)
            for call in calls:
                if group.asking:
                    pipe.execute_command("ASKING")  # type: ignore[no-untyped-call]
                pipe.evalsha(self.shas[script], 1 + len(call.keys), call.key, *call.keys, *call.args)
            if waiting:
                pipe.execute_command("WAIT", self.wait_replicas, self.wait_timeout)  # type: ignore[no-untyped-call]
            try:
                answer = pipe.execute(raise_on_error=False)
            except _RETRIED as exc:
                return [exc] * len(calls)
            with self._lock:
                self.trips.setdefault(kind, Counter())[name] += 1
            if group.asking:
                answer = [a for i, a in enumerate(answer[: 2 * len(calls)]) if i % 2] + answer[
                    2 * len(calls) :
                ]
            if loaded or not any(isinstance(a, rex.NoScriptError) for a in answer):
                break
            # A master that restarted, or a new one: load and send again (a
            # call refused for a missing script did nothing; the WAIT again
            # covers everything written on the connection).
            connection.script_load(self.sources[script])
        if waiting:
            acknowledged = answer.pop()
            if not isinstance(acknowledged, Exception) and int(acknowledged) < self.wait_replicas:
                unsure = StoreUnavailable(
                    f"Redis {name} applied the write but only {acknowledged} of {self.wait_replicas} "
                    f"replicas confirmed it within {self.wait_timeout} ms (wait_replicas): a failover "
                    "now could lose it. Retrying is safe"
                )
                answer = [unsure if not isinstance(a, Exception) else a for a in answer]
        return answer

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)


_RETRIED = (rex.ConnectionError, rex.TimeoutError, rex.TryAgainError, rex.ClusterDownError, OSError)


def _moving(error: Exception) -> bool:
    """Whether a call failed for where its keys are, not for what it did."""
    if isinstance(error, (rex.AskError, *_RETRIED)):
        return True
    message = str(error)
    return isinstance(error, rex.ResponseError) and ("non local key" in message or "same slot" in message)


def _asked(error: Exception) -> bool:
    return isinstance(error, rex.AskError) and not isinstance(error, rex.MovedError)


def _non_local(error: Exception) -> bool:
    return isinstance(error, rex.ResponseError) and "non local key" in str(error)


def _sha(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()
