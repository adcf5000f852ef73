"""Index/storage backends behind one interface (`Store`)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Sequence
from pathlib import Path

from app.store.base import (
    BandKeys,
    NewDocument,
    NewParagraph,
    SchemeMismatch,
    Store,
    StoreBroken,
    StoredDocument,
    StoredParagraph,
    StoreError,
    StoreStats,
    StoreUnavailable,
    WriteStatus,
)
from app.store.resident import Mode

# PARADUP_STORE values that name the Redis backend; anything else is SQLite.
REDIS_SCHEMES = ("redis://", "rediss://", "redis+cluster://")


def backend_module(url: str) -> str:
    """The module implementing the backend a ``PARADUP_STORE`` value names."""
    return "app.store.redis" if url.startswith(REDIS_SCHEMES) else "app.store.sqlite"


def import_backend(url: str) -> None:
    """Import, and open nothing of, the backend ``url`` names: ``paradup
    serve`` does it before forking its workers, which would each import it
    again (~20-70 ms) on their way to the first answer. A backend that cannot
    be imported is left for ``open_store`` to report, in each worker."""
    with contextlib.suppress(ImportError):
        importlib.import_module(backend_module(url))


def open_store(url: str, band_keys: BandKeys, scheme: str, resident: Mode = "off") -> Store:
    """Open the backend named by a ``PARADUP_STORE`` value; ``resident``
    (``PARADUP_RESIDENT``) keeps an embedded store's pages in memory
    (``app.store.resident``; a Redis store is in memory already)."""
    if url.startswith(REDIS_SCHEMES):
        try:
            from app.store.redis import RedisStore
        except ImportError as exc:
            raise StoreError(f"the Redis backend is not available: {exc}") from exc
        return RedisStore(url, band_keys, scheme)
    from app.store.sqlite import SqliteStore

    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")), band_keys, scheme, resident)
    if "://" in url:
        raise StoreError(f"unsupported store URL {url!r}: use sqlite:///path.db or redis://host:port/db")
    return SqliteStore(Path(url), band_keys, scheme, resident)


def verify_store(url: str, scheme: str, also: Sequence[str] = ()) -> list[str]:
    """Every problem found in the store ``url`` names (empty: it is sound).
    Unlike opening it, never creates anything. ``also``: other schemes the
    store may hold and still be served (earlier defaults)."""
    if url.startswith(REDIS_SCHEMES):
        try:
            from app.store.redis_verify import verify
        except ImportError as exc:
            return [f"the Redis backend is not available: {exc}"]
        return verify(url, scheme, also)
    from app.store import sqlite_checks
    from app.store import sqlite_schema as schema

    path = Path(url.removeprefix("sqlite:///"))
    return sqlite_checks.verify(
        path, schema.SCHEMA, schema.FORMAT, scheme, older={schema.FORMAT_2: schema.SCHEMA_2}, also=also
    )


__all__ = [
    "REDIS_SCHEMES",
    "BandKeys",
    "NewDocument",
    "NewParagraph",
    "SchemeMismatch",
    "Store",
    "StoreBroken",
    "StoreError",
    "StoreStats",
    "StoreUnavailable",
    "StoredDocument",
    "StoredParagraph",
    "WriteStatus",
    "backend_module",
    "import_backend",
    "open_store",
    "verify_store",
]
