"""The store contract for passage postings, on every backend (``store_url``:
SQLite, Redis, Redis Cluster).

Postings are a paragraph's passage fingerprints, stored after its band keys
in the same entry list (``Fingerprinter.index_keys``): they are written,
replaced and deleted with the paragraph in one atomic step, and one lookup
answers band keys and fingerprints together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest

from app.engine import Fingerprinter, Service
from app.engine.service import DocumentInput
from app.hashing.tokens import tokenise
from app.hashing.winnow import Winnowing, fingerprints
from app.settings import Settings
from app.store import NewDocument, NewParagraph, Store, open_store

FP = Fingerprinter.create(128, 3, 0.3, 6, Winnowing(4, 4))

QUOTE = "the night bus network will reach the three outer districts from the first of june"
TEXTS = [
    "The regional council voted on Tuesday, and the night bus network will reach the three outer "
    "districts from the first of June, its chair told reporters after a long session.",
    "Councillors said the pilot would run for eighteen months before a decision on permanent funding.",
]
OTHER = "An entirely different paragraph about the weather in the mountains, with snow expected at night."


def document(doc_id: str, texts: Sequence[str]) -> NewDocument:
    keys = FP.band_keys(texts)
    digest = f"{hash(tuple(texts))}"
    return NewDocument(doc_id, {}, digest, [NewParagraph(t, k) for t, k in zip(texts, keys, strict=True)])


def quote_keys(text: str = QUOTE) -> np.ndarray:  # type: ignore[type-arg]
    (tokens,) = tokenise([text])
    return np.unique(fingerprints(tokens.ids, Winnowing(4, 4))[0]).view(np.int64)


def posted(store: Store, text: str = QUOTE) -> set[tuple[str, int]]:
    """(document, paragraph) of every posting of the quote's fingerprints."""
    refs = {r for found in store.lookup(quote_keys(text)).values() for r in found}
    return {(p.document_id, p.index) for p in store.paragraphs(sorted(refs)).values()}


@pytest.fixture
def opener(store_url: str) -> Iterator[Callable[..., Store]]:
    opened: list[Store] = []

    def open_(band_keys: Callable[[Sequence[str]], list[np.ndarray]] = FP.band_keys) -> Store:  # type: ignore[type-arg]
        store = open_store(store_url, band_keys, FP.scheme)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Callable[..., Store]) -> Store:
    return opener()


def test_index_keys_are_band_keys_then_distinct_fingerprints() -> None:
    (keys,) = FP.band_keys(TEXTS[:1])
    bands, prints = FP.split_keys(keys)
    assert bands.size == FP.bands.bands
    assert prints.size > 0 and np.unique(prints).size == prints.size
    assert np.intersect1d(prints, quote_keys()).size > 0
    assert FP.band_keys(["Short line."])[0].size == 0


def test_one_lookup_answers_band_keys_and_fingerprints(store: Store) -> None:
    store.put([document("doc-1", TEXTS)])
    bands, _ = FP.split_keys(FP.band_keys(TEXTS[1:])[0])
    found = store.lookup(np.concatenate([bands, quote_keys()]))
    refs = store.paragraphs(sorted({r for refs in found.values() for r in refs}))
    assert {(p.document_id, p.index) for p in refs.values()} == {("doc-1", 0), ("doc-1", 1)}
    assert any(int(k) in found for k in quote_keys().tolist())
    assert any(int(k) in found for k in bands.tolist())


def test_postings_follow_updates_and_deletes(store: Store) -> None:
    store.put([document("doc-1", TEXTS), document("doc-2", [OTHER, TEXTS[0]])])
    assert posted(store) == {("doc-1", 0), ("doc-2", 1)}
    store.put([document("doc-2", [OTHER])])
    assert posted(store) == {("doc-1", 0)}
    assert posted(store, OTHER) == {("doc-2", 0)}
    assert store.delete("doc-1") is True
    assert posted(store) == set()
    assert posted(store, OTHER) == {("doc-2", 0)}


def test_a_failed_batch_writes_no_posting(opener: Callable[..., Store]) -> None:
    def failing(texts: Sequence[str]) -> list[np.ndarray]:  # type: ignore[type-arg]
        raise RuntimeError("simulated failure while replacing a document")

    store = opener()
    store.put([document("existing", [OTHER])])
    with pytest.raises(RuntimeError):
        opener(band_keys=failing).put([document("new-1", TEXTS), document("existing", TEXTS)])
    assert posted(store) == set()
    assert posted(store, OTHER) == {("existing", 0)}


def test_postings_count_the_paragraphs_sharing_a_fingerprint(store: Store) -> None:
    store.put([document(f"doc-{n}", [f"Story {n}: {TEXTS[0]}"]) for n in range(12)])
    found = store.lookup(quote_keys())
    assert found and all(len(refs) == 12 for refs in found.values())


def test_check_reports_archive_passages_on_every_backend(store_url: str) -> None:
    service = Service.open(Settings(store=store_url))
    try:
        service.ingest([DocumentInput("doc-1", "\n\n".join(TEXTS))])
        article = f"Residents complained for years.\n\nAfter the vote, {QUOTE}, said a relieved driver."
        results = service.check(article)
        (passage,) = results[1].passages
        assert (passage.source, passage.document_id, passage.paragraph_index) == ("archive", "doc-1", 0)
        assert article[passage.start : passage.end] == passage.text
        assert passage.text == QUOTE
        assert TEXTS[0][passage.source_start : passage.source_end] == passage.source_text
        assert passage.source_text.lower() == QUOTE
        assert not results[1].matches
    finally:
        service.close()
