"""Bulk ingest for the CLI: many documents fingerprinted in one call, written
in few large transactions, the next transaction prepared while the store
writes the last one.

Documents are fingerprinted ``PREPARE_DOCUMENTS`` at a time
(``Service.prepare_many``: one hashing call) and written in transactions of
about ``WRITE_PARAGRAPHS`` paragraphs. Reading, splitting and fingerprinting
run in a thread of their own, at most one transaction ahead of the writes:
the hashing kernels and SQLite leave the GIL while they work, so on two
cores the two stages overlap instead of taking turns.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress

from app.engine import DocumentInput, Service
from app.store import NewDocument, WriteStatus

# Documents hashed per call: enough paragraphs for the kernel's threads.
PREPARE_DOCUMENTS = 2000
# Paragraphs per store transaction: a bucket row touched by a batch is
# rewritten once per batch, so fewer, larger batches write less.
WRITE_PARAGRAPHS = 200_000
# Prepared transactions waiting for the writer: one, so that memory holds at
# most the transaction being written, the one waiting and the one in the making.
AHEAD = 1

Progress = Callable[[int, str], None]


class _Stopped(Exception):
    """The writer gave up (an error, an interrupt): preparing more is useless."""


def transactions(
    service: Service, docs: Iterable[DocumentInput], progress: Progress, stop: threading.Event
) -> Iterator[list[NewDocument]]:
    """The documents split and fingerprinted, in the transactions they are
    written in. A repeated id ends a transaction: every backend sees one
    version of a document per batch, and the later one is written last."""
    ready: list[NewDocument] = []
    waiting: list[DocumentInput] = []
    size = 0

    def prepare() -> None:
        nonlocal size
        prepared = service.prepare_many(waiting)
        ready.extend(prepared)
        size += sum(len(d.paragraphs) for d in prepared)
        progress(len(waiting), "hashing")
        waiting.clear()

    pending: set[str] = set()
    for doc in docs:
        if stop.is_set():
            raise _Stopped
        if doc.id in pending:
            if waiting:
                prepare()
            yield ready
            ready, size = [], 0
            pending.clear()
        pending.add(doc.id)
        waiting.append(doc)
        if len(waiting) >= PREPARE_DOCUMENTS:
            prepare()
            if size >= WRITE_PARAGRAPHS:
                yield ready
                ready, size = [], 0
                pending.clear()
    if waiting:
        prepare()
    if ready:
        yield ready


def ingest_stream(
    service: Service,
    docs: Iterable[DocumentInput],
    progress: Progress,
) -> tuple[dict[WriteStatus, int], int]:
    """Ingest documents in large transactions; returns counts by status and
    the number of paragraphs. Calls ``progress(documents, stage)`` as
    documents are fingerprinted and when a transaction starts ("writing")
    and ends ("hashing"). A repeated id updates the earlier document. An
    error while reading or preparing (a bad line, a refused document) is
    raised here once the transaction being written is complete; nothing
    after it is written."""
    counts: dict[WriteStatus, int] = {"created": 0, "updated": 0, "unchanged": 0}
    paragraphs = 0
    # A prepared transaction, None at the end, or the producer's exception.
    handoff: queue.Queue[list[NewDocument] | BaseException | None] = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()

    def hand(item: list[NewDocument] | BaseException | None) -> None:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def produce() -> None:
        with suppress(_Stopped):
            try:
                for batch in transactions(service, docs, progress, stop):
                    hand(batch)
                hand(None)
            except _Stopped:
                raise
            except BaseException as exc:  # raised again in the writing thread
                hand(exc)

    producer = threading.Thread(target=produce, name="paradup-ingest-prepare", daemon=True)
    # The cyclic collector walks every live container, and a bulk load holds
    # hundreds of thousands (its paragraphs, their objects) that form no
    # cycle: collections took a tenth of its CPU. Off while ingesting only.
    collecting = gc.isenabled()
    gc.disable()
    producer.start()
    try:
        while (item := handoff.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            progress(0, "writing")
            for doc, status in zip(item, service.store.put(item), strict=True):
                counts[status] += 1
                paragraphs += len(doc.paragraphs)
            progress(0, "hashing")
    finally:
        stop.set()
        producer.join()
        if collecting:
            gc.enable()
    if counts["created"] or counts["updated"]:
        # A bulk load leaves the index in pieces its writes were cut into:
        # one merge now makes every later lookup probe one of them.
        progress(0, "compacting")
        service.store.compact(full=True)
    return counts, paragraphs


__all__ = ["ingest_stream", "transactions"]
