"""Bulk ingest for the CLI: many documents fingerprinted in one call, written
in few large transactions, the next transaction prepared while the store
writes the last one.

Documents are fingerprinted ``PREPARE_DOCUMENTS`` at a time
(``Service.prepare_many``: one hashing call) and written in transactions of
about ``WRITE_PARAGRAPHS`` paragraphs (on a networked store, each in pieces
of about ``NETWORK_WRITE_PARAGRAPHS``). Splitting and fingerprinting run
beside the writes, at most one transaction ahead of them: in a thread of
their own, or for a large file in a process of their own
(``bulk_process``), where the Python parts of preparing (splitting, the
digests) do not take turns with the writer's for one interpreter lock.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from typing import Any, Protocol

import numpy as np

from app.engine import DocumentInput, Service
from app.engine.bulk_chunks import Handed, Progress, Stopped, chunks
from app.engine.bulk_files import FilePreparing
from app.engine.bulk_files import Handed as FileHanded
from app.engine.bulk_process import ProcessPreparing
from app.engine.records import FieldMap
from app.store import NewDocument, Store, WriteStatus
from app.store.packed import PackedDocuments, PackedWrites

# Documents hashed per call: enough paragraphs for the kernel's threads.
PREPARE_DOCUMENTS = 2000
# Paragraphs per store transaction: a bucket row touched by a batch is
# rewritten once per batch, so fewer, larger batches write less.
WRITE_PARAGRAPHS = 200_000
# ... on a networked store (Redis), in pieces of about this many: each piece
# is a script that runs alone on its server, so a transaction of 200,000
# paragraphs would hold every other client (the checks) for a second or more.
NETWORK_WRITE_PARAGRAPHS = 20_000
# Prepared transactions waiting for the writer: one, so that memory holds at
# most the transaction being written, the one waiting and the one in the making.
AHEAD = 1

# From this size of file on, the CLI prepares in a process of its own:
# starting it costs about a second, about what it saves on 60k paragraphs.
PROCESS_MIN_BYTES = 32 << 20


def _prepared(service: Service, docs: list[DocumentInput]) -> tuple[list[NewDocument], int]:
    prepared = service.prepare_many(docs)
    return prepared, sum(len(d.paragraphs) for d in prepared)


def transactions(
    service: Service, docs: Iterable[DocumentInput], progress: Progress, stop: threading.Event
) -> Iterator[list[NewDocument]]:
    """The documents split and fingerprinted, in the transactions they are
    written in (see ``chunks``)."""
    ready: list[NewDocument] = []
    for prepared, count, ends in chunks(
        docs, lambda w: _prepared(service, w), stop, PREPARE_DOCUMENTS, WRITE_PARAGRAPHS
    ):
        if prepared is not None:
            ready.extend(prepared)
            progress(count, "hashing")
        if ends:
            yield ready
            ready = []


class _Preparing(threading.Thread):
    """Preparing in a thread beside the writes."""

    def __init__(
        self,
        service: Service,
        docs: Iterable[DocumentInput],
        progress: Progress,
        hand: Callable[[Handed], None],
        stop: threading.Event,
    ) -> None:
        super().__init__(name="paradup-ingest-prepare", daemon=True)
        self._args = service, docs, progress, stop
        self._hand = hand

    def run(self) -> None:
        with suppress(Stopped):
            try:
                for batch in transactions(*self._args):
                    self._hand(batch)
                self._hand(None)
            except Stopped:
                raise
            except BaseException as exc:  # raised again in the writing thread
                self._hand(exc)

    def close(self) -> None:
        if self.ident is not None:  # started
            self.join()


def ingest_stream(
    service: Service,
    docs: Iterable[DocumentInput],
    progress: Progress,
    process: bool = False,
) -> tuple[dict[WriteStatus, int], int]:
    """Ingest documents in large transactions; returns counts by status and
    the number of paragraphs. Calls ``progress(documents, stage)`` as
    documents are fingerprinted and when a transaction starts ("writing")
    and ends ("hashing"). A repeated id updates the earlier document. An
    error while reading or preparing (a bad line, a refused document) is
    raised here once the transaction being written is complete; nothing
    after it is written. ``process``: prepare in a process of its own (for
    a large input: starting it takes about a second)."""

    def preparing(hand: Callable[[Handed], None], stop: threading.Event) -> _Preparing | ProcessPreparing:
        if process:
            return ProcessPreparing(service, docs, progress, hand, stop, PREPARE_DOCUMENTS, WRITE_PARAGRAPHS)
        return _Preparing(service, docs, progress, hand, stop)

    return _written(service, preparing, progress)


def ingest_file(
    service: Service,
    path: str,
    fields: FieldMap,
    blocks: Iterable[tuple[int, int, int]],
    progress: Progress,
) -> tuple[dict[WriteStatus, int], int]:
    """``ingest_stream`` of a JSON-lines file, read, parsed and prepared by
    processes of their own (``bulk_files``), ``blocks`` (start, end, first
    line) at a time. A bad line raises ``BadLine`` (its number in the file),
    bytes that are not UTF-8 ``NotUtf8``."""

    def preparing(hand: Callable[[Handed | FileHanded], None], stop: threading.Event) -> FilePreparing:
        return FilePreparing(service, path, fields, blocks, progress, hand, stop, WRITE_PARAGRAPHS)

    return _written(service, preparing, progress)


class _Stage(Protocol):
    def start(self) -> None: ...

    def close(self) -> None: ...


def _pieces(
    item: list[NewDocument] | PackedDocuments, store: Store
) -> Iterator[list[NewDocument] | PackedDocuments]:
    """A prepared transaction as the store writes it: whole on an embedded
    store; on a networked one in pieces of about ``NETWORK_WRITE_PARAGRAPHS``
    paragraphs, whole documents each (a piece of a transaction still holds
    one version of a document)."""
    if store.local:
        yield item
        return
    counts = (
        np.array([len(doc.paragraphs) for doc in item], np.int64) if isinstance(item, list) else item.counts
    )
    if not len(counts):
        yield item
        return
    ends = np.cumsum(counts)
    lo = 0
    while lo < len(counts):
        base = int(ends[lo - 1]) if lo else 0
        # Whole documents up to the size, at least one.
        hi = max(lo + 1, int(np.searchsorted(ends, base + NETWORK_WRITE_PARAGRAPHS, side="right")))
        yield item[lo:hi] if isinstance(item, list) else item.slice(lo, hi)
        lo = hi


def _write(store: Store, item: list[NewDocument] | PackedDocuments) -> tuple[list[WriteStatus], int]:
    if isinstance(item, list):
        return store.put(item), sum(len(doc.paragraphs) for doc in item)
    if isinstance(store, PackedWrites):
        return store.put_packed(item), int(item.counts.sum())
    return store.put(item.documents()), int(item.counts.sum())


def _written(
    service: Service,
    preparing: Callable[[Callable[[Any], None], threading.Event], _Stage],
    progress: Progress,
) -> tuple[dict[WriteStatus, int], int]:
    """Runs a preparing stage beside the writes; what ``ingest_stream`` returns."""
    counts: dict[WriteStatus, int] = {"created": 0, "updated": 0, "unchanged": 0}
    paragraphs = 0
    handoff: queue.Queue[Handed | FileHanded] = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()

    def hand(item: Handed | FileHanded) -> None:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise Stopped

    stage = preparing(hand, stop)
    # The cyclic collector walks every live container, and a bulk load holds
    # hundreds of thousands (its paragraphs, their objects) that form no
    # cycle: collections took a tenth of its CPU. Off while ingesting only.
    collecting = gc.isenabled()
    gc.disable()
    try:
        stage.start()
        while (item := handoff.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            progress(0, "writing")
            for piece in _pieces(item, service.store):
                statuses, written = _write(service.store, piece)
                for status in statuses:
                    counts[status] += 1
                paragraphs += written
            progress(0, "hashing")
    finally:
        stop.set()
        stage.close()
        if collecting:
            gc.enable()
    if counts["created"] or counts["updated"]:
        # A bulk load leaves the index in pieces its writes were cut into:
        # one merge now makes every later lookup probe one of them.
        progress(0, "compacting")
        service.store.compact(full=True)
    return counts, paragraphs


__all__ = ["PROCESS_MIN_BYTES", "chunks", "ingest_file", "ingest_stream", "transactions"]
