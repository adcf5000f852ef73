"""Bulk ingest for the CLI: many documents fingerprinted in one call, written
in few large transactions.

Documents are fingerprinted ``PREPARE_DOCUMENTS`` at a time
(``Service.prepare_many``: one hashing call) and written in transactions of
about ``WRITE_PARAGRAPHS`` paragraphs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from app.engine import DocumentInput, Service
from app.store import NewDocument, WriteStatus

# Documents hashed per call: enough paragraphs for the kernel's threads.
PREPARE_DOCUMENTS = 2000
# Paragraphs per store transaction: a bucket row touched by a batch is
# rewritten once per batch, so fewer, larger batches write less.
WRITE_PARAGRAPHS = 200_000


def ingest_stream(
    service: Service,
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
        ready.extend(service.prepare_many(waiting))
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

    pending: set[str] = set()
    for doc in docs:
        if doc.id in pending:
            # A later version of a document in this transaction: write what
            # came before, so every backend sees one version per batch.
            if waiting:
                prepare()
            write()
            pending.clear()
        pending.add(doc.id)
        waiting.append(doc)
        if len(waiting) >= PREPARE_DOCUMENTS:
            prepare()
            if sum(len(d.paragraphs) for d in ready) >= WRITE_PARAGRAPHS:
                write()
                pending.clear()
    if waiting:
        prepare()
    if ready:
        write()
    return counts, paragraphs


__all__ = ["ingest_stream"]
