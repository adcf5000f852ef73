"""``paradup migrate``: copies a namespace of the one-slot layout (every key
under ``paradup:{ns}:``, before shards) into a sharded namespace.

The source's documents are read as they are stored (id, digest, metadata,
paragraph texts) and written to the target in batches, their index keys
recomputed from the texts with the source's fingerprint scheme (the CLI
picks it among those its settings accept: with no band setting, the
defaults of the source's time too). Digests are kept, so re-ingesting an unchanged document into
the target afterwards answers "unchanged". The source is only read: delete
it (``redis-cli --scan --pattern 'paradup:{ns}:*'``) once the target serves.
Writes to the source during the copy may be missed: stop ingesting first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from app.store.base import BandKeys, NewDocument, NewParagraph, SchemeMismatch, StoreBroken, StoreError
from app.store.redis import RedisStore
from app.store.redis_client import as_text, connect, guard, parse_url

BATCH = 200  # documents per write to the target
NO_KEYS = np.empty(0, np.int64)  # computed when the batch is written


@dataclass(frozen=True)
class Migrated:
    documents: int
    paragraphs: int


def one_slot_scheme(url: str) -> str | None:
    """The fingerprint scheme a one-slot namespace records (None: it has none)."""
    target = parse_url(url)
    with guard(target.namespace, ""):
        client = connect(target)
        try:
            found = client.hget(f"paradup:{{{target.namespace}}}:meta".encode(), "scheme")
        finally:
            client.close()
    return as_text(found) if found else None


def _one_slot_documents(url: str, scheme: str) -> Iterator[NewDocument]:
    """The source's documents, without index keys (paragraph keys empty)."""
    target = parse_url(url)
    prefix = f"paradup:{{{target.namespace}}}:".encode()
    with guard(target.namespace, scheme):
        client = connect(target)
        try:
            stored_scheme = as_text(client.hget(prefix + b"meta", "scheme"))
            if not stored_scheme:
                raise StoreBroken(f"Redis namespace {target.namespace!r} holds no one-slot index to migrate")
            if stored_scheme != scheme:
                raise SchemeMismatch(
                    f"namespace {target.namespace!r} was indexed with {stored_scheme!r}, not "
                    f"{scheme!r}: migrate with the fingerprint settings it was built with"
                )
            for doc_id, seq in client.hscan_iter(prefix + b"ids", count=500):
                stored = client.lrange(prefix + b"d" + seq, 0, -1)
                if len(stored) < 3:
                    continue  # deleted meanwhile
                texts = [as_text(t) for t in stored[3:]]
                yield NewDocument(
                    as_text(doc_id),
                    json.loads(stored[2]),
                    as_text(stored[1]),
                    [NewParagraph(t, NO_KEYS) for t in texts],
                )
        finally:
            client.close()


def migrate(source: str, target: str, band_keys: BandKeys, scheme: str) -> Migrated:
    """Copy every document of the one-slot namespace ``source`` names into
    the sharded namespace ``target`` names (created with its ``create=1``)."""
    if parse_url(source).namespace == parse_url(target).namespace and _same_server(source, target):
        raise StoreError("--from and --to name the same namespace: migrate into a new one")
    store = RedisStore(target, band_keys, scheme)
    documents = paragraphs = 0
    try:
        batch: list[NewDocument] = []
        for doc in _one_slot_documents(source, scheme):
            batch.append(doc)
            if len(batch) >= BATCH:
                paragraphs += _write(store, batch, band_keys)
                documents += len(batch)
                batch = []
        if batch:
            paragraphs += _write(store, batch, band_keys)
            documents += len(batch)
    finally:
        store.close()
    return Migrated(documents, paragraphs)


def _write(store: RedisStore, batch: Sequence[NewDocument], band_keys: BandKeys) -> int:
    texts = [p.text for d in batch for p in d.paragraphs]
    keys = iter(band_keys(texts)) if texts else iter(())
    store.put(
        [
            NewDocument(d.id, d.metadata, d.digest, [NewParagraph(p.text, next(keys)) for p in d.paragraphs])
            for d in batch
        ]
    )
    return len(texts)


def _same_server(a: str, b: str) -> bool:
    return parse_url(a).address.split("?")[0] == parse_url(b).address.split("?")[0]
