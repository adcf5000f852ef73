"""What both ways of preparing a bulk load share (``bulk``'s thread and
``bulk_process``'s process): how documents are cut into hashing calls and
transactions, and what a handoff carries."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from app.engine.service import DocumentInput
from app.store import NewDocument

Progress = Callable[[int, str], None]
# What a prepared transaction's handoff carries: the transaction, None at
# the end, or the exception that ended the preparing.
Handed = list[NewDocument] | BaseException | None
T = TypeVar("T")


class Stopped(Exception):
    """The writer gave up (an error, an interrupt): preparing more is useless."""


def chunks(
    docs: Iterable[DocumentInput],
    prepare: Callable[[list[DocumentInput]], tuple[T, int]],
    stop: threading.Event,
    documents: int,
    paragraphs: int,
) -> Iterator[tuple[T | None, int, bool]]:
    """The documents prepared ``documents`` at a time (``prepare`` gives a
    result and its paragraphs): (result or None, documents in it, whether
    the transaction ends after it). A transaction ends once it holds
    ``paragraphs`` paragraphs, and before a repeated id: every backend sees
    one version of a document per batch, and the later one is written last."""
    waiting: list[DocumentInput] = []
    pending: set[str] = set()
    size = 0
    for doc in docs:
        if stop.is_set():
            raise Stopped
        if doc.id in pending:
            yield (prepare(waiting)[0], len(waiting), True) if waiting else (None, 0, True)
            waiting, size = [], 0
            pending.clear()
        pending.add(doc.id)
        waiting.append(doc)
        if len(waiting) >= documents:
            result, count = prepare(waiting)
            size += count
            ends = size >= paragraphs
            yield result, len(waiting), ends
            waiting = []
            if ends:
                size = 0
                pending.clear()
    if waiting:
        yield prepare(waiting)[0], len(waiting), True
    elif pending:
        yield None, 0, True
