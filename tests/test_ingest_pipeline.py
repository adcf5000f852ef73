"""The bulk ingest pipeline: its fast paths give what the plain ones give,
and the overlapped prepare/write stages keep the all-or-nothing of each
transaction when either side fails."""

from __future__ import annotations

import gc
import multiprocessing
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import app.engine.bulk
import app.engine.service
from app.engine import DocumentInput, InvalidDocument, Service
from app.engine.bulk import ingest_stream
from app.engine.cancel import NEVER
from app.hashing.tokens import tokenise
from app.hashing.winnow import fingerprints
from app.settings import Settings
from app.store import StoreError
from app.text.paragraphs import _split_fast, _split_lines
from tests.test_store_contract import FP

# Whitespace of every kind the splitter treats differently: line breaks,
# blanks within a line, and characters str.isspace() knows but a line
# break is not (form feed, NEL, line and paragraph separators).
PIECES = ["word", "x", " ", "  ", "\t", "\n", "\n", "\n\n", "\x0c", "\x85", "\u2028", "\u3000", "é"]


@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_the_fast_splitter_splits_as_the_line_by_line_one(text: str) -> None:
    assert _split_fast(text) == _split_lines(text)


def reference_keys(texts: list[str]) -> list[np.ndarray]:  # type: ignore[type-arg]
    """Index keys computed paragraph by paragraph, as before the batch kernel."""
    keys = FP.keys_for(FP.analyse(texts))
    assert FP.passages is not None
    chosen = [t for t, k in zip(texts, keys, strict=True) if k.size]
    prints = iter(np.unique(fingerprints(t.ids, FP.passages)[0]).view(np.int64) for t in tokenise(chosen))
    return [np.concatenate((k, next(prints))) if k.size else k for k in keys]


WORDS = ["harbour", "board", "ferry", "the", "of", "berth", "Zürich", "北京", "上海", "«", "—", "1999", "a"]


@given(st.lists(st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join), min_size=1, max_size=8))
def test_index_keys_in_one_call_are_the_per_paragraph_keys(texts: list[str]) -> None:
    got = FP.index_keys(texts, FP.analyse(texts))
    want = reference_keys(texts)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.int64 and np.array_equal(g, w)


def test_ingest_indexes_the_keys_a_check_looks_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest computes keys alone (``index_keys``), a check its full prints:
    the same keys, slice by slice too (slices of a few paragraphs here)."""
    monkeypatch.setattr(app.engine.service, "FINGERPRINT_SLICE_CHARS", 200)
    service = Service.open(Settings(store=f"sqlite:///{tmp_path}/k.db"))
    texts = [" ".join(WORDS[(i * j) % len(WORDS)] for j in range(5 + 7 * (i % 6))) for i in range(30)] + [
        "Short.",
        "ﬁnal cafe\u0301 déjà vu " * 9,
    ]
    docs = [DocumentInput(f"d{i}", "\n\n".join(texts[i::4])) for i in range(4)]
    prepared = service.prepare_many(docs)
    for doc, one in zip(docs, prepared, strict=True):
        split = [p.text for p in service._split(doc.text, doc.format, doc.id)]
        want = service._fingerprint(split, NEVER, tokens=True).keys
        assert [p.text for p in one.paragraphs] == split
        assert all(np.array_equal(p.keys, w) for p, w in zip(one.paragraphs, want, strict=True))
    assert any(p.keys.size for one in prepared for p in one.paragraphs)
    service.close()


def article(n: int, salt: str) -> str:
    return "\n\n".join(
        f"Paragraph {i} of {salt} tells of berth {i * 7} and the {i % 13} ferries that left port on day {i}."
        for i in range(n)
    )


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # 4 documents hashed per call, a transaction every 12 paragraphs
    monkeypatch.setattr(app.engine.bulk, "PREPARE_DOCUMENTS", 4)
    monkeypatch.setattr(app.engine.bulk, "WRITE_PARAGRAPHS", 12)


def stopped() -> bool:
    """No thread nor process of a bulk ingest is left behind."""
    names = {t.name for t in threading.enumerate()}
    return not names & {"paradup-ingest-prepare", "paradup-ingest-read", "paradup-ingest-receive"} and not [
        p for p in multiprocessing.active_children() if p.name == "paradup-ingest-prepare"
    ]


# Preparing in a thread, or in a process of its own: the same outcomes.
BOTH = pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])


@BOTH
@pytest.mark.usefixtures("small_batches")
def test_a_refused_document_stops_the_stream_after_whole_transactions(tmp_path: Path, process: bool) -> None:
    service = Service.open(Settings(store=f"sqlite:///{tmp_path}/i.db"))
    docs = [DocumentInput(f"d{i}", article(3, f"d{i}")) for i in range(40)]
    docs[30] = DocumentInput("d30", "   ")  # empty: refused while preparing
    with pytest.raises(InvalidDocument, match="d30") as raised:
        ingest_stream(service, docs, lambda n, stage: None, process=process)
    # where it was raised, when that was another process (its traceback stays there)
    notes = "".join(getattr(raised.value, "__notes__", ()))
    assert ("in the process preparing" in notes and "_split" in notes) == process
    stored = service.stats().documents
    # every transaction before d30's (4 documents of 3 paragraphs each), none after
    assert stored == 28
    assert all(service.get(f"d{i}") is not None for i in range(28))
    assert service.get("d28") is None and service.get("d30") is None
    assert stopped()
    assert gc.isenabled()  # off while ingesting only, also when it fails
    service.close()


@BOTH
@pytest.mark.usefixtures("small_batches")
def test_a_failed_write_stops_the_preparing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process: bool
) -> None:
    service = Service.open(Settings(store=f"sqlite:///{tmp_path}/i.db"))
    read: list[int] = []

    def docs() -> Iterator[DocumentInput]:
        for i in range(10_000):
            read.append(i)
            yield DocumentInput(f"d{i}", article(3, f"d{i}"))

    def broken(_: object) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(service.store, "put", broken)
    with pytest.raises(StoreError, match="disk full"):
        ingest_stream(service, docs(), lambda n, stage: None, process=process)
    # the producer stopped within a transaction or two of the failure
    assert len(read) < 100
    assert stopped()
    service.close()


class LineFault(ValueError):
    """A reader's own error type, which pickling could not rebuild: the
    caller gets this very object, not a copy."""

    def __init__(self, number: int, problem: str) -> None:
        super().__init__(f"line {number}: {problem}")


@BOTH
@pytest.mark.usefixtures("small_batches")
def test_a_bad_line_from_the_reader_is_raised_to_the_caller(tmp_path: Path, process: bool) -> None:
    service = Service.open(Settings(store=f"sqlite:///{tmp_path}/i.db"))
    fault = LineFault(42, "not JSON")

    def docs() -> Iterator[DocumentInput]:
        for i in range(41):
            yield DocumentInput(f"d{i}", article(3, f"d{i}"))
        raise fault

    with pytest.raises(LineFault) as raised:
        ingest_stream(service, docs(), lambda n, stage: None, process=process)
    assert raised.value is fault
    # the transactions of 4 documents before it, not the one it interrupted
    assert service.stats().documents == 40
    assert service.get("d40") is None
    assert stopped()
    service.close()


@pytest.mark.usefixtures("small_batches")
def test_a_preparing_process_that_dies_stops_the_stream_after_whole_transactions(tmp_path: Path) -> None:
    service = Service.open(Settings(store=f"sqlite:///{tmp_path}/i.db"))
    docs = [DocumentInput(f"d{i}", article(3, f"d{i}")) for i in range(400)]
    hashed: list[int] = []

    def progress(done: int, stage: str) -> None:
        hashed.append(done)
        # Killed once, while there is more to prepare: the writer's own
        # progress calls (done=0) come after it too, with the sum unchanged.
        if done and sum(hashed) == 20:
            (child,) = [p for p in multiprocessing.active_children() if p.name == "paradup-ingest-prepare"]
            child.kill()

    with pytest.raises(ChildProcessError, match="ended unexpectedly"):
        ingest_stream(service, docs, progress, process=True)
    stored = service.stats().documents
    assert 0 < stored < 400 and stored % 4 == 0  # whole transactions only
    assert all(service.get(f"d{i}") is not None for i in range(stored))
    assert service.get(f"d{stored}") is None
    assert stopped()
    service.close()


def test_an_error_the_parent_cannot_rebuild_still_names_itself() -> None:
    from app.engine.bulk_process import _portable

    refused = InvalidDocument("document 'x' is empty")
    assert _portable(refused) is refused
    rebuilt = _portable(LineFault(7, "not JSON"))
    assert type(rebuilt) is RuntimeError and str(rebuilt) == "LineFault: line 7: not JSON"


def test_the_packed_form_gives_what_prepare_many_gives(tmp_path: Path) -> None:
    from app.engine.bulk_process import _pack, unpack

    service = Service.open(Settings(store=f"sqlite:///{tmp_path}/u.db"))
    docs = [
        DocumentInput("a", article(3, "a"), metadata={"k": [1, "é"]}),
        DocumentInput("b", "<p>Short.</p><p>" + " ".join(WORDS * 4) + "</p>", "html"),
        DocumentInput("c", "Just one short line."),
    ]
    packed, paragraphs = _pack(service, docs)
    assert paragraphs == 6
    for x, y in zip(service.prepare_many(docs), unpack(packed), strict=True):
        assert (x.id, x.metadata, x.digest) == (y.id, y.metadata, y.digest)
        assert [p.text for p in x.paragraphs] == [p.text for p in y.paragraphs]
        assert all(np.array_equal(p.keys, q.keys) for p, q in zip(x.paragraphs, y.paragraphs, strict=True))
    service.close()


def long_article(salt: str) -> str:
    """Three paragraphs long enough to be indexed, each document's its own
    (documents alike would all be boilerplate to each other)."""
    vocabulary = "harbour pilot cargo ship breakwater crane tide berth quay ferry dock rope".split()
    rng = np.random.default_rng(zlib.crc32(salt.encode()))
    return "\n\n".join(
        " ".join(f"{vocabulary[w % 12]}{w}" for w in rng.integers(0, 10_000, 40)) for _ in range(3)
    )


@pytest.mark.usefixtures("small_batches")
def test_a_bulk_load_ends_with_its_index_in_two_runs_at_most(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.store import sqlite_index

    monkeypatch.setattr(sqlite_index, "FLUSH_ENTRIES", 64)  # each transaction writes a run
    service = Service.open(Settings(store=f"sqlite:///{tmp_path}/r.db"))
    docs = [DocumentInput(f"d{i}", long_article(f"d{i}")) for i in range(40)]
    stages: list[str] = []
    counts, _ = ingest_stream(service, docs, lambda n, stage: stages.append(stage))
    assert counts["created"] == 40 and stages[-1] == "compacting"
    assert gc.isenabled()
    conn = service.store._conn  # type: ignore[attr-defined]
    # ten transactions, ten runs; the tiers merged eight, the full compaction
    # the rest (or all of it, when the rest is no small part of the largest)
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] <= 2
    assert conn.execute("SELECT count(*) FROM segments").fetchone() == (0,)
    for i in (0, 17, 39):  # each document still finds itself
        result = service.check(long_article(f"d{i}"))[0]
        assert {m.document_id for m in result.matches} == {f"d{i}"}
    service.close()
