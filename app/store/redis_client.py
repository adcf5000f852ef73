"""The Redis backend's connection: URL options, clients, the translation of
redis-py's failures into the store contract's, and the health checks that
decide whether a namespace can be served at all (it exists, holds this
fingerprint scheme, and lives on servers that never evict keys)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import redis
import redis.exceptions as rex
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

from app.store.base import StoreBroken, StoreError, StoreUnavailable
from app.store.redis_filter import DEFAULT_BITS as DEFAULT_FILTER_BITS
from app.store.redis_filter import DEFAULT_FILTER, DEFAULT_HASHES, DEFAULT_WORDS, FilterFormat

DEFAULT_BUCKET_BITS = 14
# Logical shards of a namespace (one hash tag each, so a cluster spreads
# them over its masters); a power of two, fixed at creation. A check asks
# every shard, and its cost on the server grows with their number (each
# shard tests every key of the article against its filter, then reads the
# buckets of those that pass): one server gains nothing from shards, so a
# standalone namespace has one by default; a cluster 32, the fewest that
# keep 3 masters within 33 % +- 5 of an index (11/11/10, or 11/10/11; 16
# shards fall 6/5/5 or 6/4/6, as the tags' slots fall on the masters' ranges).
DEFAULT_SHARDS = 32
DEFAULT_STANDALONE_SHARDS = 1
MAX_SHARDS = 256
DEFAULT_WAIT_TIMEOUT_MS = 1000
NAMESPACE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# The one eviction policy that can never drop an index key: under memory
# pressure Redis refuses writes (a 503 for the client) instead.
SAFE_POLICY = "noeviction"
# Prefixes of the errors the scripts raise when their namespace is gone or
# partly deleted (see redis_lua).
NAMESPACE_ERROR = "PARADUP_NAMESPACE"
DAMAGED_ERROR = "PARADUP_DAMAGED"
ONE_SLOT_ERROR = "PARADUP_ONE_SLOT"
NON_LOCAL = "non local key"  # Redis stopped a script that met a key of a slot in motion

# Short timeouts: a replica must answer 503 quickly when Redis is gone rather
# than hold requests; the retries absorb a dropped idle connection.
CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 10.0

_UNAVAILABLE = (
    rex.ConnectionError,
    rex.TimeoutError,
    rex.ClusterDownError,
    rex.MasterDownError,
    rex.TryAgainError,
    rex.SlotNotCoveredError,
    rex.ReadOnlyError,
    OSError,
)

Client = redis.Redis | RedisCluster


@dataclass(frozen=True)
class Target:
    """What a store URL names."""

    address: str  # a redis-py URL, or the cluster's seed hosts
    options: dict[str, str]
    namespace: str
    bucket_bits: int
    create: bool  # create the namespace when it does not exist
    cluster: bool
    shards: int = DEFAULT_SHARDS  # only used when creating
    wait_replicas: int = 0  # replicas that must acknowledge each write (WAIT)
    wait_timeout: int = DEFAULT_WAIT_TIMEOUT_MS
    # Only used when creating (redis_filter): bits per bucket, bits a key.
    filter: FilterFormat = DEFAULT_FILTER


def _flag(value: str, name: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no", ""):
        return False
    raise StoreError(f"{name} must be 1 or 0, not {value!r}")


def parse_url(url: str) -> Target:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    namespace = query.pop("namespace", "default")
    if not NAMESPACE.match(namespace):
        raise StoreError(f"invalid namespace {namespace!r}: use 1-64 letters, digits, '_', '.', ':' or '-'")
    try:
        bits = int(query.pop("bucket_bits", DEFAULT_BUCKET_BITS))
    except ValueError as exc:
        raise StoreError("bucket_bits must be an integer") from exc
    if not 8 <= bits <= 24:
        raise StoreError("bucket_bits must be between 8 and 24")
    create = _flag(query.pop("create", "0"), "create")
    named_shards = "shards" in query
    cluster = parts.scheme == "redis+cluster"
    default_shards = DEFAULT_SHARDS if cluster else DEFAULT_STANDALONE_SHARDS
    shards = _integer(query, "shards", default_shards, 1, MAX_SHARDS)
    if shards & (shards - 1):
        raise StoreError(f"shards must be a power of two (1, 2, 4 ... {MAX_SHARDS}), not {shards}")
    if named_shards and not create:
        # The count is the namespace's, fixed by its creator: a URL naming
        # another one would suggest it could change.
        raise StoreError("shards= is only accepted with create=1 (the namespace records its count)")
    if (1 << bits) < shards:
        raise StoreError("bucket_bits must give every shard at least one bucket (2**bucket_bits >= shards)")
    replicas = _integer(query, "wait_replicas", 0, 0, 64)
    timeout = _integer(query, "wait_timeout", DEFAULT_WAIT_TIMEOUT_MS, 1, 600_000)
    filter_format = FilterFormat(
        _integer(query, "filter_bits", DEFAULT_FILTER_BITS, 0, 64),
        DEFAULT_HASHES,
        versioned=True,
        words=DEFAULT_WORDS,
    )
    filter_format.validate()
    extra: dict[str, Any] = {
        "shards": shards,
        "wait_replicas": replicas,
        "wait_timeout": timeout,
        "filter": filter_format,
    }
    if cluster:
        return Target(parts.netloc, query, namespace, bits, create, True, **extra)
    address = urlunsplit(parts._replace(query=urlencode(query)))
    return Target(address, {}, namespace, bits, create, False, **extra)


def _integer(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(query.pop(name, default))
    except ValueError as exc:
        raise StoreError(f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise StoreError(f"{name} must be between {low} and {high}")
    return value


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=0.25, base=0.02), 3)


def connect(target: Target) -> Client:
    if not target.cluster:
        return redis.Redis.from_url(
            target.address,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=SOCKET_TIMEOUT,
            retry=_retry(),
        )
    userinfo, _, hosts = target.address.rpartition("@")
    user, _, password = userinfo.partition(":")
    nodes = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        nodes.append(ClusterNode(name or "127.0.0.1", int(port or 6379)))  # type: ignore[no-untyped-call]
    return RedisCluster(
        startup_nodes=nodes,
        username=unquote(user) or None,
        password=unquote(password) or None,
        socket_connect_timeout=float(target.options.get("socket_connect_timeout", CONNECT_TIMEOUT)),
        socket_timeout=float(target.options.get("socket_timeout", SOCKET_TIMEOUT)),
        retry=_retry(),
    )


def as_text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


def missing_namespace(namespace: str) -> StoreBroken:
    return StoreBroken(
        f"Redis namespace {namespace!r} does not exist: it was never created, or its data was lost "
        "(Redis restarted without persistence, FLUSHALL, deleted or evicted keys). Restore Redis "
        "from a backup, or create the namespace once with create=1 in the store URL (docs/redis.md)"
    )


def one_slot_layout(namespace: str) -> StoreBroken:
    return StoreBroken(
        f"Redis namespace {namespace!r} is in the one-slot layout of earlier paradup versions, which "
        "this version no longer reads. Copy it into a sharded namespace with `paradup migrate --from "
        f"URL?namespace={namespace} --to URL?namespace=NEW&create=1` (or re-ingest everything into a "
        "new namespace), then point PARADUP_STORE at the new one (README, Redis)"
    )


def _script_failure(namespace: str, scheme: str, message: str) -> StoreBroken:
    found = message.removeprefix(NAMESPACE_ERROR).strip()
    if found in ("", "false"):
        return missing_namespace(namespace)
    return StoreBroken(
        f"Redis namespace {namespace!r} now holds an index built with {found!r}, not {scheme!r}: "
        "it was deleted and created again with other fingerprint settings"
    )


@contextmanager
def guard(namespace: str, scheme: str) -> Iterator[None]:
    """redis-py's failures as the store contract's."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc
    except rex.AskError as exc:  # MOVED too: a slot still moving when the retries ran out
        raise StoreUnavailable(f"Redis Cluster slot in motion: {exc}") from exc
    except rex.ResponseError as exc:
        message = str(exc)
        if NON_LOCAL in message:
            # A read stopped by a slot migration, still moving when the
            # retries ran out (writes declare their keys: never stopped so).
            raise StoreUnavailable(f"Redis Cluster slot in motion: {exc}") from exc
        if message.startswith(NAMESPACE_ERROR):
            raise _script_failure(namespace, scheme, message) from None
        if message.startswith(DAMAGED_ERROR):
            raise StoreBroken(
                f"Redis namespace {namespace!r} is damaged: its documents remain but its meta key "
                "is gone. Restore Redis from a backup, or delete the namespace's keys and re-ingest"
            ) from None
        if message.startswith(ONE_SLOT_ERROR):
            raise one_slot_layout(namespace) from None
        if message.startswith("OOM"):
            raise StoreUnavailable(f"Redis is out of memory (maxmemory reached): {exc}") from exc
        raise StoreError(f"Redis error: {exc}") from exc
    except rex.ClusterError as exc:  # redis-py's "TTL exhausted.": redirections ran out
        raise StoreUnavailable(f"Redis Cluster unsettled: {exc}") from exc
    except rex.RedisError as exc:
        raise StoreError(f"Redis error: {exc}") from exc


def _policies(client: Client) -> dict[str, str]:
    """maxmemory-policy of each master, read from INFO (CONFIG is often
    disabled on managed Redis, INFO rarely)."""
    if isinstance(client, RedisCluster):
        policies = {}
        for node in client.get_primaries():  # type: ignore[no-untyped-call]
            found: Any = client.info("memory", target_nodes=node)
            policies[f"{node.host}:{node.port}"] = str(found.get("maxmemory_policy"))
        return policies
    info: Any = client.info("memory")
    return {"redis": str(info.get("maxmemory_policy"))}


def eviction_problems(client: Client) -> list[str]:
    """Why the servers may lose index keys silently (empty when they cannot)."""
    return [
        f"Redis {node} has maxmemory-policy {policy!r}: it evicts keys when memory runs out, "
        f"losing documents without an error. Set maxmemory-policy {SAFE_POLICY} "
        "(redis.conf, or CONFIG SET maxmemory-policy noeviction)"
        for node, policy in sorted(_policies(client).items())
        if policy != SAFE_POLICY
    ]
