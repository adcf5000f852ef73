"""Bulk ingest of a JSON-lines file by preparing processes that read it.

``bulk_process`` has one child prepare documents the parent reads, parses
and sends: the parent's JSON parsing and the texts' trip through a pipe
take turns with the writer for the parent's interpreter lock. Here the
parent only cuts the file into byte ranges of whole lines (``blocks``);
``CHILDREN`` spawned processes each read, parse, split and fingerprint
their own ranges, handed out in turn, and send back packed documents
(``PackedDocuments``: flat texts and one key array). The parent takes the
answers in the file's order and cuts the transactions itself: at about
``WRITE_PARAGRAPHS`` paragraphs, and before a repeated id.

Errors keep ``ingest_stream``'s order: a block that holds a bad line sends
the documents before it and the error; every transaction complete before
it is written, the error is raised, nothing after it is written. A child
holds no part of the store, so killing one loses no write.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from multiprocessing.connection import Connection

import numpy as np

from app.engine.bulk_chunks import Progress, Stopped
from app.engine.bulk_process import EXIT_SECONDS, _portable, preparing_ended
from app.engine.fingerprint import Fingerprinter
from app.engine.records import BadLine, FieldMap, documents_from_lines
from app.engine.service import DocumentInput, Preparer, Service, digest
from app.settings import Settings
from app.store.packed import PackedDocuments, metadata_json

# Two cores: two children prepare while the parent writes.
CHILDREN = 2
# Blocks handed to each child and not yet answered: it never waits for
# its next one, and the parent reads no further ahead than that.
IN_FLIGHT = 2
Block = tuple[int, int, int]  # start, end, number of the first line
# What a transaction's handoff carries: the documents, None at the end, or
# the error that ended the preparing.
Handed = PackedDocuments | BaseException | None


class NotUtf8(ValueError):
    """Bytes of the file that are not UTF-8."""

    def __init__(self, line: int) -> None:
        super().__init__(f"not valid UTF-8 (at or after line {line})")
        self.line = line

    def __reduce__(self) -> tuple[type[NotUtf8], tuple[int]]:
        return NotUtf8, (self.line,)


def block_lines(fd: int, block: Block) -> Iterator[str]:
    """The lines of a block, as a text-mode file gives them (universal
    newlines; a byte order mark at the start of the file dropped)."""
    start, end, line = block
    data = os.pread(fd, end - start, start)
    try:
        text = data.decode("utf-8-sig" if start == 0 else "utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        raise NotUtf8(line + before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n")) from None
    return iter(io.StringIO(text, newline=None))


def pack(preparer: Preparer, docs: list[DocumentInput]) -> PackedDocuments:
    texts, keys = preparer.prepare_texts(docs)
    return PackedDocuments(
        [d.id for d in docs],
        [metadata_json(d.metadata) for d in docs],
        [digest(each, d.metadata) for d, each in zip(docs, texts, strict=True)],
        np.array([len(each) for each in texts], dtype=np.int64),
        [t for each in texts for t in each],
        np.array([k.size for k in keys], dtype=np.int64),
        np.concatenate(keys) if keys else np.empty(0, dtype=np.int64),
    )


def prepare_block(
    preparer: Preparer, fd: int, block: Block, fields: FieldMap
) -> tuple[PackedDocuments | None, int, BaseException | None]:
    """(the documents of the block before its first fault, how many, the fault)."""
    docs: list[DocumentInput] = []
    error: BaseException | None = None
    try:
        for _, d in documents_from_lines(block_lines(fd, block), fields, block[2]):
            docs.append(DocumentInput(d.id, d.text, d.format, d.metadata))
    except (BadLine, NotUtf8) as exc:
        error = exc
    if not docs:
        return None, 0, error
    try:
        return pack(preparer, docs), len(docs), error
    except Exception as exc:  # a refused document, before any bad line after it
        exc.add_note("raised in the process preparing documents:\n" + traceback.format_exc())
        return None, len(docs), _portable(exc)


def _child(conn: Connection, path: str, fields: FieldMap, settings: Settings, fp: Fingerprinter) -> None:
    """Blocks in, (packed, documents, error) out, until None or the parent is gone."""
    import gc

    gc.disable()  # as in the parent (see ``ingest_stream``)
    preparer = Preparer(settings, fp)
    fd = os.open(path, os.O_RDONLY)
    try:
        while (block := conn.recv()) is not None:
            try:
                answer = prepare_block(preparer, fd, block, fields)
            except Exception as exc:  # reading failed (the file went away, say)
                answer = None, 0, _portable(exc)
            conn.send(answer)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
    finally:
        os.close(fd)


class FilePreparing:
    """The parent's side: a thread that hands blocks to the children in
    turn, takes their answers in the same order and hands transactions to
    the writer."""

    def __init__(
        self,
        service: Service,
        path: str,
        fields: FieldMap,
        blocks: Iterable[Block],
        progress: Progress,
        hand: Callable[[Handed], None],
        stop: threading.Event,
        paragraphs: int,
    ) -> None:
        self._service, self._path, self._fields = service, path, fields
        self._blocks = iter(blocks)
        self._progress, self._hand, self._stop = progress, hand, stop
        self._paragraphs = paragraphs
        self._conns: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        service = self._service
        for _ in range(CHILDREN):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=_child,
                args=(theirs, self._path, self._fields, service.settings, service.fingerprinter),
                name="paradup-ingest-prepare",
                daemon=True,
            )
            process.start()
            theirs.close()  # when the child dies, reading sees the end
            self._conns.append(mine)
            self._processes.append(process)
        self._thread = threading.Thread(target=self._run, name="paradup-ingest-receive", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._receive()
        except Stopped:
            return
        except BaseException as exc:  # reading the file, say: raised in the writer
            try:
                self._hand(exc)
            except Stopped:
                return

    def _next_block(self, child: int, order: deque[int]) -> None:
        if self._stop.is_set():
            raise Stopped
        block = next(self._blocks, None)
        if block is not None:
            self._conns[child].send(block)
            order.append(child)

    def _receive(self) -> None:
        order: deque[int] = deque()  # the child answering each block sent, in file order
        for _ in range(IN_FLIGHT):
            for child in range(CHILDREN):
                self._next_block(child, order)
        parts: list[PackedDocuments] = []
        pending: set[str] = set()
        size = 0

        def flush() -> None:
            nonlocal parts, size
            if parts or pending:
                self._hand(PackedDocuments.join(parts))
            parts, size = [], 0
            pending.clear()

        while order:
            child = order.popleft()
            try:
                packed, documents, error = self._conns[child].recv()
            except (EOFError, OSError):
                self._hand(self._died(child))
                return
            self._next_block(child, order)
            if packed is not None:
                lo = 0
                for i, doc_id in enumerate(packed.ids):
                    if doc_id in pending:  # one version per transaction, the later one last
                        if i > lo:
                            parts.append(packed.slice(lo, i))
                        flush()
                        lo = i
                    pending.add(doc_id)
                part = packed.slice(lo, len(packed.ids))
                parts.append(part)
                size += int(part.counts.sum())
                self._progress(documents, "hashing")
            if error is not None:
                self._hand(error)  # the transaction it interrupted is not written
                return
            if size >= self._paragraphs:
                flush()
        flush()
        self._hand(None)

    def _died(self, child: int) -> ChildProcessError:
        return preparing_ended(self._processes[child], self._stop.is_set(), "a process")

    def close(self) -> None:
        """Stops the children and the thread (at once when the writer gave up)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            # The writer gave up: a child may be blocked sending an answer
            # nobody reads. It holds no part of the store: only unwritten
            # work is lost.
            for process in self._processes:
                process.kill()
        else:
            for conn in self._conns:
                with suppress(OSError):
                    conn.send(None)
        for process in self._processes:
            process.join(EXIT_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        if thread is not None:
            thread.join()
        for process in self._processes:
            process.close()
        for conn in self._conns:
            conn.close()
