"""Bulk ingest for the CLI: many documents fingerprinted in one call, written
in few large transactions.

``Paradup.prepare`` hashes one document at a time; at a few paragraphs per
document the fixed cost of each hashing call dominates. ``prepare_batch``
gives the same ``NewDocument``s (tests/test_bulk.py holds it to that) with
one hashing call per batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence

from app.engine import DocumentInput, Paradup
from app.store import NewDocument, NewParagraph, WriteStatus

# Documents hashed per call: enough paragraphs for the kernel's threads.
PREPARE_DOCUMENTS = 2000
# Paragraphs per store transaction: a bucket row touched by a batch is
# rewritten once per batch, so fewer, larger batches write less.
WRITE_PARAGRAPHS = 200_000


def prepare_batch(service: Paradup, docs: Sequence[DocumentInput]) -> list[NewDocument]:
    """``[service.prepare(d) for d in docs]``, fingerprinting all texts at once."""
    texts = [[p.text for p in service._split(d.text, d.format, f"document {d.id!r}")] for d in docs]
    flat = [t for doc in texts for t in doc]
    fp = service.fingerprinter
    keys = iter(fp.keys_for(flat, fp.indexable(fp.analyse(flat))) if flat else [])
    out = []
    for doc, paragraphs in zip(docs, texts, strict=True):
        digest = hashlib.sha256(
            json.dumps([paragraphs, doc.metadata], ensure_ascii=False, sort_keys=True).encode()
        ).hexdigest()
        out.append(
            NewDocument(doc.id, dict(doc.metadata), digest, [NewParagraph(t, next(keys)) for t in paragraphs])
        )
    return out


def ingest_stream(
    service: Paradup,
    docs: Iterable[DocumentInput],
    progress: Callable[[int, str], None],
) -> tuple[dict[WriteStatus, int], int]:
    """Ingest documents in large transactions; returns counts by status and
    the number of paragraphs. Calls ``progress(documents, stage)`` as
    documents are fingerprinted and when a transaction starts ("writing")
    and ends ("hashing"). A repeated id updates the earlier document."""
    counts: dict[WriteStatus, int] = {"created": 0, "updated": 0, "unchanged": 0}
    paragraphs = 0
    ready: list[NewDocument] = []
    waiting: list[DocumentInput] = []

    def prepare() -> None:
        ready.extend(prepare_batch(service, waiting))
        progress(len(waiting), "hashing")
        waiting.clear()

    def write() -> None:
        nonlocal paragraphs
        progress(0, "writing")
        for doc, status in zip(ready, service.store.put(ready), strict=True):
            counts[status] += 1
            paragraphs += len(doc.paragraphs)
        ready.clear()
        progress(0, "hashing")

    for doc in docs:
        waiting.append(doc)
        if len(waiting) >= PREPARE_DOCUMENTS:
            prepare()
            if sum(len(d.paragraphs) for d in ready) >= WRITE_PARAGRAPHS:
                write()
    if waiting:
        prepare()
    if ready:
        write()
    return counts, paragraphs


__all__ = ["ingest_stream", "prepare_batch"]
