"""Bulk ingest's preparing in a process of its own.

In one process the preparing thread and the writing one share the
interpreter lock, and both spend much of their time in Python (splitting,
digests, building rows): they take turns more than they overlap. Here a
child process splits, fingerprints and digests; the parent reads the file,
writes, and rebuilds the documents from a packed form (flat lists and one
array of keys per hashing call, cheap to pickle).

The child is started fresh (spawn): it never holds the store or anything
else of the parent's (a forked SQLite connection, or numba's threads, would
not survive the fork). It sees only documents and sends back prepared
ones, so killing it loses no write: that is how the parent stops it when the
writer fails. Errors keep the thread version's order: every transaction
prepared before a refused document or a bad line is written, the error is
raised, nothing after it is written.
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

import numpy as np

from app.engine.bulk_chunks import Handed, Progress, Stopped, chunks
from app.engine.fingerprint import Fingerprinter
from app.engine.service import DocumentInput, Preparer, Service, digest
from app.settings import Settings
from app.store import NewDocument, NewParagraph
from app.store.base import Keys

# Documents sent to the child and not yet prepared, in hashing calls: two,
# so that it never waits for the next while the parent reads no further
# ahead than that (the prepared ones wait in the writer's handoff).
IN_FLIGHT_CALLS = 2
# A child that does not end after its last answer is killed after this long.
EXIT_SECONDS = 10.0


class Packed(NamedTuple):
    """The documents of one hashing call, as the child sends them."""

    ids: list[str]
    metadata: list[dict[str, Any]]
    digests: list[str]
    counts: list[int]  # paragraphs of each document
    texts: list[str]  # every paragraph's, in order
    sizes: list[int]  # keys of each paragraph
    keys: Keys  # every paragraph's keys, one after the other


class _ReaderFailed(Exception):
    """The parent could not read the next document (its error stays there)."""


def _pack(preparer: Preparer, docs: list[DocumentInput]) -> tuple[Packed, int]:
    texts, keys = preparer.prepare_texts(docs)
    flat = [t for each in texts for t in each]
    packed = Packed(
        [d.id for d in docs],
        [dict(d.metadata) for d in docs],
        [digest(each, d.metadata) for d, each in zip(docs, texts, strict=True)],
        [len(each) for each in texts],
        flat,
        [k.size for k in keys],
        np.concatenate(keys) if keys else np.empty(0, dtype=np.int64),
    )
    return packed, len(flat)


def unpack(packed: Packed) -> list[NewDocument]:
    """The stored form ``prepare_many`` gives, from the packed one."""
    ends = np.cumsum(packed.sizes, dtype=np.int64).tolist()
    keys = packed.keys
    paragraphs = [
        NewParagraph(text, keys[end - size : end])
        for text, size, end in zip(packed.texts, packed.sizes, ends, strict=True)
    ]
    out = []
    at = 0
    for doc_id, metadata, doc_digest, count in zip(
        packed.ids, packed.metadata, packed.digests, packed.counts, strict=True
    ):
        out.append(NewDocument(doc_id, metadata, doc_digest, paragraphs[at : at + count]))
        at += count
    return out


def _received(inbox: Connection) -> Iterator[DocumentInput]:
    while True:
        message = inbox.recv()
        if message[0] == "end":
            return
        if message[0] == "failed":
            raise _ReaderFailed
        for doc_id, text, fmt, metadata in message[1]:
            yield DocumentInput(doc_id, text, fmt, metadata)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (its type and message do in the
    parent), else a RuntimeError naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _child(
    inbox: Connection,
    outbox: Connection,
    settings: Settings,
    fingerprinter: Fingerprinter,
    documents: int,
    paragraphs: int,
) -> None:
    """The child's whole life: documents in, prepared calls out, then "end"
    or "failed" (with the exception, None for the parent's reading error)."""
    gc.disable()  # as in the parent (see ``ingest_stream``)
    preparer = Preparer(settings, fingerprinter)
    never = threading.Event()
    try:
        for packed, count, ends in chunks(
            _received(inbox), lambda w: _pack(preparer, w), never, documents, paragraphs
        ):
            outbox.send(("chunk", packed, count, ends))
        outbox.send(("end",))
    except _ReaderFailed:
        outbox.send(("failed", None))
    except (EOFError, BrokenPipeError):
        return  # the parent is gone or stopped us: nobody to tell
    except BaseException as exc:
        # The traceback does not cross processes: a note keeps where it was.
        exc.add_note("raised in the process preparing documents:\n" + traceback.format_exc())
        outbox.send(("failed", _portable(exc)))


class ProcessPreparing:
    """The parent's side: a thread sending documents to the child, another
    receiving prepared ones and handing transactions to the writer."""

    def __init__(
        self,
        service: Service,
        docs: Iterable[DocumentInput],
        progress: Progress,
        hand: Callable[[Handed], None],
        stop: threading.Event,
        documents: int,
        paragraphs: int,
    ) -> None:
        self._service, self._docs, self._progress = service, docs, progress
        self._hand, self._stop = hand, stop
        self._documents, self._paragraphs = documents, paragraphs
        self._in_flight = 0
        self._credit = threading.Condition()
        self._reader_error: BaseException | None = None
        self._threads: list[threading.Thread] = []
        self._process: multiprocessing.process.BaseProcess | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        child_in, self._outbox = context.Pipe(duplex=False)
        self._inbox, child_out = context.Pipe(duplex=False)
        service = self._service
        self._process = context.Process(
            target=_child,
            args=(
                child_in,
                child_out,
                service.settings,
                service.fingerprinter,
                self._documents,
                self._paragraphs,
            ),
            name="paradup-ingest-prepare",
            daemon=True,
        )
        self._process.start()
        # The child's ends, closed here: when it dies, reading sees the end.
        child_in.close()
        child_out.close()
        for target, name in ((self._feed, "paradup-ingest-read"), (self._receive, "paradup-ingest-receive")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _send(self, message: tuple[Any, ...], documents: int = 0) -> None:
        with self._credit:
            while self._in_flight > 0 and self._in_flight + documents > IN_FLIGHT_CALLS * self._documents:
                if self._stop.is_set():
                    raise Stopped
                self._credit.wait(0.1)
            self._in_flight += documents
        if self._stop.is_set():
            raise Stopped
        try:
            self._outbox.send(message)
        except OSError:
            raise Stopped from None  # the child is gone: the receiver says why

    def _feed(self) -> None:
        batch: list[tuple[str, str, str, Mapping[str, Any]]] = []
        docs = iter(self._docs)
        try:
            while True:
                try:
                    doc = next(docs)
                except StopIteration:
                    break
                except BaseException as exc:  # raised in the writer, in its turn
                    self._reader_error = exc
                    self._send(("failed",))
                    return
                batch.append((doc.id, doc.text, doc.format, dict(doc.metadata)))
                if len(batch) >= self._documents:
                    self._send(("docs", batch), len(batch))
                    batch = []
            if batch:
                self._send(("docs", batch), len(batch))
            self._send(("end",))
        except Stopped:
            return

    def _receive(self) -> None:
        ready: list[NewDocument] = []
        try:
            while True:
                try:
                    message = self._inbox.recv()
                except (EOFError, OSError):
                    self._hand(self._died())
                    return
                if message[0] == "end":
                    self._hand(None)
                    return
                if message[0] == "failed":
                    self._hand(self._reader_error if message[1] is None else message[1])
                    return
                _, packed, count, ends = message
                with self._credit:
                    self._in_flight -= count
                    self._credit.notify_all()
                if packed is not None:
                    ready.extend(unpack(packed))
                    self._progress(count, "hashing")
                if ends:
                    self._hand(ready)
                    ready = []
        except Stopped:
            return
        except BaseException as exc:  # a message that cannot be read, say
            try:
                self._hand(exc)
            except Stopped:
                return

    def _died(self) -> ChildProcessError:
        assert self._process is not None
        return preparing_ended(self._process, self._stop.is_set(), "the process")

    def close(self) -> None:
        """Stops the child and the threads (at once when the writer gave up)."""
        self._stop.set()
        with self._credit:
            self._credit.notify_all()
        process = self._process
        if process is None:
            return
        process.join(0 if self._threads and self._threads[-1].is_alive() else EXIT_SECONDS)
        if process.is_alive():
            process.kill()  # it holds no part of the store: only unwritten work is lost
            process.join()
        for thread in self._threads:
            thread.join()
        self._inbox.close()
        self._outbox.close()
        process.close()


def preparing_ended(
    process: multiprocessing.process.BaseProcess, stopping: bool, which: str
) -> ChildProcessError:
    """The error of a preparing process that ended before its work did
    (``which`` names it); reaped first unless the ingest is stopping, when
    ``close`` reaps it."""
    if not stopping:
        process.join(EXIT_SECONDS)
    return ChildProcessError(
        f"{which} preparing documents for ingest ended unexpectedly (exit code {process.exitcode}); "
        "the transactions before are written, nothing after"
    )
