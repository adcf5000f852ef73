"""Opening a Redis namespace: its root key says its scheme, shard count and
bucket bits; a one-slot namespace of an older version is refused with the
way forward."""

from __future__ import annotations

from app.store import redis_lua as lua
from app.store.base import SchemeMismatch
from app.store.redis_client import Client, Target, as_text, missing_namespace, one_slot_layout
from app.store.redis_filter import FilterFormat
from app.store.redis_layout import Layout
from app.store.redis_retry import retrying


def open_root(client: Client, namespace: str, scheme: str, target: Target) -> tuple[int, int, FilterFormat]:
    """The namespace's shard count, bucket bits and filter format, after checking its
    scheme. It is created only when asked (``create=1``): a namespace
    that vanished must not come back empty unnoticed."""
    shards, bits = target.shards, target.bucket_bits
    probe = Layout(namespace, 1, bits)
    # Each call declares every key it touches, so a slot migration
    # refuses it before it runs: retrying is safe, writes included.
    if target.create:
        script = client.register_script(lua.CREATE_ROOT)
        found = retrying(
            lambda: script(
                keys=[probe.root, probe.old_root, probe.old_meta],
                args=[scheme, shards, bits, target.filter.name],
            ),
            read_only=False,
        )
    else:
        fields = ["scheme", "shards", "bucket_bits", "filter"]
        found = retrying(lambda: client.hmget(probe.root, fields), True)
        if found[0] is None:
            found = retrying(lambda: client.hmget(probe.old_root, fields), True)
    stored_scheme, stored_shards, stored_bits, stored_filter = (as_text(v) for v in found)
    if not stored_scheme:
        if retrying(lambda: client.exists(probe.old_meta), True):
            raise one_slot_layout(namespace)
        raise missing_namespace(namespace)
    if stored_scheme != scheme:
        raise SchemeMismatch(
            f"namespace {namespace!r} was indexed with {stored_scheme!r}, not {scheme!r}: "
            "use the same fingerprint settings or a new namespace"
        )
    # The namespace's creator fixed shards and buckets; a URL asking for
    # others must not scatter keys where lookups will not look.
    return int(stored_shards), int(stored_bits), FilterFormat.parse(stored_filter or None)
