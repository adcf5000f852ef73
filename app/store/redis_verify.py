"""``paradup verify`` on Redis: the namespace exists with this scheme on
servers that never evict, and every shard's counters agree with what it holds."""

from __future__ import annotations

from app.store.base import StoreError
from app.store.redis import RedisStore


def verify(url: str, scheme: str) -> list[str]:
    if "create=" in url:
        return ["verify never creates a namespace: remove create= from the store URL"]
    try:
        store = RedisStore(url, lambda texts: [], scheme)
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
