"""``paradup verify`` on Redis: the namespace exists with this scheme on
servers that never evict, and every shard's counters agree with what it holds."""

from __future__ import annotations

from collections.abc import Sequence

from app.store.base import SchemeMismatch, StoreError
from app.store.redis import RedisStore


def verify(url: str, scheme: str, also: Sequence[str] = ()) -> list[str]:
    """``also``: other schemes the namespace may hold and still be served."""
    if "create=" in url:
        return ["verify never creates a namespace: remove create= from the store URL"]
    try:
        store = _opened(url, scheme, also)
    except StoreError as exc:
        return [str(exc)]
    try:
        with store._guard():
            documents = sum(int(store.client.hlen(p + b"ids")) for p in store.layout.prefixes)
        counted = store.stats().documents
    except StoreError as exc:
        return [str(exc)]
    finally:
        store.close()
    if documents != counted:
        return [f"namespace {store.namespace!r} counts {counted} documents but holds {documents}"]
    return []


def _opened(url: str, scheme: str, also: Sequence[str]) -> RedisStore:
    refused: SchemeMismatch | None = None
    for candidate in (scheme, *also):
        try:
            return RedisStore(url, lambda texts: [], candidate)
        except SchemeMismatch as exc:
            refused = refused or exc
    assert refused is not None
    raise refused
