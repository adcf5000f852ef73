"""One contract for every index backend: the service relies on nothing else.

Backends are selected by URL through the ``store_url`` fixture (conftest):
the same tests run against SQLite and, where their servers can be started,
Redis and Redis Cluster.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest

from app.engine import Fingerprinter, Service
from app.engine.service import DocumentInput
from app.hashing.tokens import tokenise
from app.hashing.winnow import Winnowing, fingerprints
from app.settings import Settings
from app.store import NewDocument, NewParagraph, SchemeMismatch, Store, open_store
from app.store.base import CandidateRule, Candidates, candidates_by_two_calls

# With passage postings, as the service indexes by default: every test
# below also writes, replaces and deletes them (and the end of this file
# checks them).
FP = Fingerprinter.create(num_perm=128, shingle_size=3, lsh=0.5, min_shingles=6, passages=Winnowing(4, 4))

Opener = Callable[..., Store]

TEXTS = [
    "The regional council voted on Tuesday to extend the night bus network to the three outer districts.",
    "Councillors said the pilot would run for eighteen months before a decision on permanent funding.",
    "Short line.",
]


def document(doc_id: str, texts: Sequence[str], metadata: dict | None = None) -> NewDocument:  # type: ignore[type-arg]
    keys = FP.band_keys(texts)
    digest = f"{hash((tuple(texts), repr(metadata)))}"
    return NewDocument(
        doc_id, metadata or {}, digest, [NewParagraph(t, k) for t, k in zip(texts, keys, strict=True)]
    )


@pytest.fixture
def opener(store_url: str) -> Iterator[Opener]:
    opened: list[Store] = []

    def open_(
        band_keys: Callable[[Sequence[str]], list[np.ndarray]] = FP.band_keys, scheme: str = FP.scheme
    ) -> Store:  # type: ignore[type-arg]
        store = open_store(store_url, band_keys, scheme)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Opener) -> Store:
    return opener()


def refs_for(store: Store, text: str) -> set[int]:
    found = store.lookup(FP.band_keys([text])[0])
    return {ref for refs in found.values() for ref in refs}


def test_create_get_and_stats(store: Store) -> None:
    assert store.put([document("doc-1", TEXTS, {"section": "local", "tags": ["bus", 1]})]) == ["created"]
    doc = store.get("doc-1")
    assert doc is not None
    assert doc.paragraphs == TEXTS
    assert doc.metadata == {"section": "local", "tags": ["bus", 1]}
    stats = store.stats()
    assert (stats.documents, stats.paragraphs) == (1, 3)
    assert store.get("doc-2") is None


def test_lookup_finds_indexed_paragraphs_only(store: Store) -> None:
    store.put([document("doc-1", TEXTS, {"section": "city", "n": [1, 2]})])
    refs = refs_for(store, TEXTS[0])
    assert len(refs) == 1
    found = store.paragraphs(sorted(refs))
    (paragraph,) = found.values()
    assert (paragraph.document_id, paragraph.index, paragraph.text) == ("doc-1", 0, TEXTS[0])
    assert paragraph.metadata == {"section": "city", "n": [1, 2]}
    # too short to be banded: nothing to look up
    assert FP.band_keys([TEXTS[2]])[0].size == 0
    assert (
        refs_for(store, "An entirely different paragraph about the weather in the mountains today.") == set()
    )


def test_paragraphs_of_several_documents_each_carry_their_metadata(store: Store) -> None:
    store.put(
        [
            document("doc-a", TEXTS, {"from": "a"}),
            document("doc-b", [TEXTS[1], TEXTS[2], TEXTS[0]], {"from": "b"}),
            document("doc-c", TEXTS[:1], {}),
        ]
    )
    refs = refs_for(store, TEXTS[0]) | refs_for(store, TEXTS[1])
    found = store.paragraphs(sorted(refs))
    assert sorted((p.document_id, p.index) for p in found.values()) == [
        ("doc-a", 0),
        ("doc-a", 1),
        ("doc-b", 0),
        ("doc-b", 2),
        ("doc-c", 0),
    ]
    for paragraph in found.values():
        expected = {"doc-a": {"from": "a"}, "doc-b": {"from": "b"}, "doc-c": {}}[paragraph.document_id]
        assert dict(paragraph.metadata) == expected


def test_same_digest_is_unchanged_and_new_text_replaces(store: Store) -> None:
    store.put([document("doc-1", TEXTS)])
    assert store.put([document("doc-1", TEXTS)]) == ["unchanged"]
    new_text = "A new first paragraph replaces the old one entirely, with other words and other facts."
    assert store.put([document("doc-1", [new_text])]) == ["updated"]
    doc = store.get("doc-1")
    assert doc is not None and doc.paragraphs == [new_text]
    assert refs_for(store, TEXTS[0]) == set()
    assert refs_for(store, TEXTS[1]) == set()
    assert len(refs_for(store, new_text)) == 1
    stats = store.stats()
    assert (stats.documents, stats.paragraphs) == (1, 1)


def test_delete_removes_everything(store: Store) -> None:
    store.put([document("doc-1", TEXTS), document("doc-2", TEXTS[:1])])
    old_refs = refs_for(store, TEXTS[0])
    assert store.delete("doc-1") is True
    assert store.get("doc-1") is None
    assert store.delete("doc-1") is False
    remaining = refs_for(store, TEXTS[0])
    assert len(remaining) == 1 and remaining < old_refs
    assert {p.document_id for p in store.paragraphs(sorted(old_refs)).values()} == {"doc-2"}
    stats = store.stats()
    assert (stats.documents, stats.paragraphs) == (1, 1)
    # every entry of those keys now names a deleted paragraph
    assert store.delete("doc-2") is True
    assert refs_for(store, TEXTS[0]) == set()


def test_batch_is_atomic(opener: Opener) -> None:
    calls = {"n": 0}

    def failing_keys(texts: Sequence[str]) -> list[np.ndarray]:  # type: ignore[type-arg]
        calls["n"] += 1
        raise RuntimeError("simulated failure while replacing a document")

    store = opener()
    store.put([document("existing", TEXTS)])
    broken = opener(band_keys=failing_keys)
    if getattr(broken, "recomputes_keys", True):
        with pytest.raises(RuntimeError):
            broken.put([document("new-1", TEXTS[:1]), document("existing", TEXTS[1:])])
        assert calls["n"] >= 1
    else:
        # The SQLite store forgets an old version by its ref range, without
        # re-analysing its text (its own atomicity test injects a failure
        # inside the write: tests/test_store_sqlite.py).
        assert calls["n"] == 0
        return
    assert store.get("new-1") is None
    existing = store.get("existing")
    assert existing is not None and existing.paragraphs == TEXTS
    stats = store.stats()
    assert (stats.documents, stats.paragraphs) == (1, 3)


def test_a_batch_naming_a_document_twice_is_refused_and_writes_nothing(store: Store) -> None:
    store.put([document("kept", TEXTS)])
    with pytest.raises(ValueError, match="'again'"):
        store.put([document("again", TEXTS[:1]), document("new", TEXTS[1:2]), document("again", TEXTS[1:])])
    with pytest.raises(ValueError, match="'kept'"):
        store.put([document("kept", TEXTS[:1]), document("kept", TEXTS[1:])])
    assert store.get("again") is None
    assert store.get("new") is None
    kept = store.get("kept")
    assert kept is not None and kept.paragraphs == TEXTS
    stats = store.stats()
    assert (stats.documents, stats.paragraphs) == (1, 3)
    assert len(refs_for(store, TEXTS[0])) == 1


def test_data_survives_reopening(opener: Opener) -> None:
    first = opener()
    first.put([document("doc-1", TEXTS, {"a": 1})])
    first.close()
    again = opener()
    doc = again.get("doc-1")
    assert doc is not None and doc.metadata == {"a": 1}
    assert len(refs_for(again, TEXTS[1])) == 1


def test_two_instances_see_each_others_writes(opener: Opener) -> None:
    a, b = opener(), opener()
    a.put([document("from-a", TEXTS[:1])])
    assert b.get("from-a") is not None
    assert b.delete("from-a") is True
    assert a.get("from-a") is None


def test_other_scheme_is_refused(opener: Opener) -> None:
    opener().put([document("doc-1", TEXTS)])
    with pytest.raises(SchemeMismatch):
        opener(scheme=FP.scheme + " shingle=9")


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(10):
                text = f"Worker {worker} writes paragraph number {i} with enough words to be indexed here."
                store.put([document(f"w{worker}-{i}", [text])])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = store.stats()
    assert (stats.documents, stats.paragraphs) == (40, 40)
    assert all(store.get(f"w{w}-{i}") is not None for w in range(4) for i in range(10))


def test_unicode_ids_and_texts_round_trip(store: Store) -> None:
    texts = [
        "习近平在北京会见了来访的代表团并就双边关系交换了意见",
        "مرحبا بالعالم هذا نص عربي طويل بما يكفي للفهرسة والبحث",
    ]
    store.put([document("文章/١٢٣ é", texts, {"titre": "Éte\u0301"})])
    doc = store.get("文章/١٢٣ é")
    assert doc is not None and doc.paragraphs == texts and doc.metadata == {"titre": "Éte\u0301"}


def test_ping_succeeds_on_an_open_store_and_writes_nothing(store: Store) -> None:
    store.put([document("doc-1", TEXTS)])
    assert store.ping() is None  # type: ignore[func-returns-value]
    assert store.ping() is None  # type: ignore[func-returns-value]
    stats = store.stats()
    assert (stats.documents, stats.paragraphs) == (1, 3)
    assert [d.id for d in store.first_paragraphs("", 10)] == ["doc-1"]


def test_first_paragraphs_by_prefix(store: Store) -> None:
    store.put(
        [
            document("desk/b", TEXTS[1:], {"note": "b"}),
            document("desk/a", TEXTS, {"note": "a", "n": [1, 2]}),
            document("desk/empty", []),
            document("desk%", TEXTS[:1]),
            document("other/a", TEXTS[:1]),
            document("désk/é", TEXTS[2:], {"note": "é"}),
        ]
    )
    found = store.first_paragraphs("desk/", 10)
    assert [(d.id, d.metadata, d.paragraphs) for d in found] == [
        ("desk/a", {"note": "a", "n": [1, 2]}, TEXTS[:1]),
        ("desk/b", {"note": "b"}, TEXTS[1:2]),
        ("desk/empty", {}, []),
    ]
    assert [d.id for d in store.first_paragraphs("desk/", 2)] == ["desk/a", "desk/b"]
    assert [(d.id, d.paragraphs) for d in store.first_paragraphs("désk/", 10)] == [("désk/é", TEXTS[2:])]
    assert store.first_paragraphs("none/", 10) == []
    store.delete("desk/a")
    store.put([document("desk/b", TEXTS[:1], {"note": "b2"})])
    found = store.first_paragraphs("desk/", 10)
    assert [(d.id, d.metadata, d.paragraphs) for d in found] == [
        ("desk/b", {"note": "b2"}, TEXTS[:1]),
        ("desk/empty", {}, []),
    ]
    assert len(store.first_paragraphs("", 100)) == 5


# Passage postings: a paragraph's passage fingerprints follow its band keys
# in the same entry list (Fingerprinter.index_keys), so they are written,
# replaced and deleted with it in one atomic step, and one lookup answers
# band keys and fingerprints together.

QUOTE = "the night bus network will reach the three outer districts from the first of june"
QUOTED = [
    "The regional council voted on Tuesday, and the night bus network will reach the three outer "
    "districts from the first of June, its chair told reporters after a long session.",
    "Councillors said the pilot would run for eighteen months before a decision on permanent funding.",
]
OTHER = "An entirely different paragraph about the weather in the mountains, with snow expected at night."


def quote_keys(text: str = QUOTE) -> np.ndarray:  # type: ignore[type-arg]
    (tokens,) = tokenise([text])
    return np.unique(fingerprints(tokens.ids, Winnowing(4, 4))[0]).view(np.int64)


def posted(store: Store, text: str = QUOTE) -> set[tuple[str, int]]:
    """(document, paragraph) of every posting of the quote's fingerprints."""
    refs = {r for found in store.lookup(quote_keys(text)).values() for r in found}
    return {(p.document_id, p.index) for p in store.paragraphs(sorted(refs)).values()}


def test_index_keys_are_band_keys_then_distinct_fingerprints() -> None:
    (keys,) = FP.band_keys(QUOTED[:1])
    bands, prints = FP.split_keys(keys)
    assert bands.size == FP.bands.bands
    assert prints.size > 0 and np.unique(prints).size == prints.size
    assert np.intersect1d(prints, quote_keys()).size > 0
    assert FP.band_keys(["Short line."])[0].size == 0


def test_one_lookup_answers_band_keys_and_fingerprints(store: Store) -> None:
    store.put([document("doc-1", QUOTED)])
    bands, _ = FP.split_keys(FP.band_keys(QUOTED[1:])[0])
    found = store.lookup(np.concatenate([bands, quote_keys()]))
    refs = store.paragraphs(sorted({r for refs in found.values() for r in refs}))
    assert {(p.document_id, p.index) for p in refs.values()} == {("doc-1", 0), ("doc-1", 1)}
    assert any(int(k) in found for k in quote_keys().tolist())
    assert any(int(k) in found for k in bands.tolist())


def test_postings_follow_updates_and_deletes(store: Store) -> None:
    store.put([document("doc-1", QUOTED), document("doc-2", [OTHER, QUOTED[0]])])
    assert posted(store) == {("doc-1", 0), ("doc-2", 1)}
    store.put([document("doc-2", [OTHER])])
    assert posted(store) == {("doc-1", 0)}
    assert posted(store, OTHER) == {("doc-2", 0)}
    assert store.delete("doc-1") is True
    assert posted(store) == set()
    assert posted(store, OTHER) == {("doc-2", 0)}


def test_a_failed_batch_writes_no_posting(opener: Opener) -> None:
    def failing(texts: Sequence[str]) -> list[np.ndarray]:  # type: ignore[type-arg]
        raise RuntimeError("simulated failure while replacing a document")

    store = opener()
    store.put([document("existing", [OTHER])])
    broken = opener(band_keys=failing)
    if not getattr(broken, "recomputes_keys", True):
        return  # never calls band_keys (see test_batch_is_atomic)
    with pytest.raises(RuntimeError):
        broken.put([document("new-1", QUOTED), document("existing", QUOTED)])
    assert posted(store) == set()
    assert posted(store, OTHER) == {("existing", 0)}


def test_postings_count_the_paragraphs_sharing_a_fingerprint(store: Store) -> None:
    store.put([document(f"doc-{n}", [f"Story {n}: {QUOTED[0]}"]) for n in range(12)])
    found = store.lookup(quote_keys())
    assert found and all(len(refs) == 12 for refs in found.values())


def test_check_reports_archive_passages_on_every_backend(store_url: str) -> None:
    service = Service.open(Settings(store=store_url))
    try:
        service.ingest([DocumentInput("doc-1", "\n\n".join(QUOTED))])
        article = f"Residents complained for years.\n\nAfter the vote, {QUOTE}, said a relieved driver."
        results = service.check(article)
        (passage,) = results[1].passages
        assert (passage.source, passage.document_id, passage.paragraph_index) == ("archive", "doc-1", 0)
        assert article[passage.start : passage.end] == passage.text
        assert passage.text == QUOTE
        assert QUOTED[0][passage.source_start : passage.source_end] == passage.source_text
        assert passage.source_text.lower() == QUOTE
        assert not results[1].matches
    finally:
        service.close()


# The check's one call (Store.candidates): hits and candidate paragraphs by
# the one CandidateRule, whatever the backend.


def candidate_places(found: Candidates) -> set[tuple[str, int]]:
    return {(p.document_id, p.index) for p in found.paragraphs.values()}


def test_candidates_follow_the_rule_on_every_backend(store: Store) -> None:
    store.put([document(f"story-{n}", [f"Story {n}: {QUOTED[0]}"]) for n in range(12)])
    store.put([document("a", TEXTS, {"desk": "city"}), document("b", TEXTS[:2])])
    bands = FP.split_keys(FP.band_keys(TEXTS[:1])[0])[0]
    quote = quote_keys()
    wide = CandidateRule(refs_per_band=64, max_postings=10)
    found = store.candidates(bands, quote, wide)
    # the 12 stories share the quote's fingerprints: a formula, cut at 11 refs
    found_hits = found.hits.as_dict()
    assert {len(found_hits[int(k)]) for k in quote if int(k) in found_hits} == {11}
    assert candidate_places(found) == {("a", 0), ("b", 0)}
    assert found.paragraphs[min(found.paragraphs)].text == TEXTS[0]
    with_metadata = [p for p in found.paragraphs.values() if p.document_id == "a"]
    assert [dict(p.metadata) for p in with_metadata] == [{"desk": "city"}]
    loose = store.candidates(np.empty(0, np.int64), quote, CandidateRule(64, 12))
    assert candidate_places(loose) == {(f"story-{n}", 0) for n in range(12)}
    # the same answer as lookup + paragraphs with the rule, down to the refs
    for rule in (wide, CandidateRule(1, 12), CandidateRule(1, 0)):
        one = store.candidates(bands, quote, rule)
        two = candidates_by_two_calls(store, bands, quote, rule)
        assert one.hits.as_dict() == two.hits.as_dict() == store.hits(bands, quote, rule).as_dict()
        assert one.paragraphs == two.paragraphs
    (lowest,) = store.candidates(bands, np.empty(0, np.int64), CandidateRule(1, 0)).paragraphs
    assert lowest == min(found.paragraphs)
    nothing = store.candidates(np.empty(0, np.int64), np.empty(0, np.int64), wide)
    assert (nothing.hits.as_dict(), nothing.paragraphs) == ({}, {})


def test_a_ref_found_under_fingerprints_alone_needs_the_votes_of_the_rule(store: Store) -> None:
    store.put([document("doc-1", QUOTED), document("other", [OTHER])])
    quote = quote_keys()
    found = store.lookup(quote)
    present = np.array([k for k in quote.tolist() if k in found], np.int64)
    assert present.size >= 2
    no_bands = np.empty(0, np.int64)
    voted = CandidateRule(64, 10, min_votes=2)
    one, twice, two = present[:1], np.repeat(present[:1], 2), present[:2]
    assert candidate_places(store.candidates(no_bands, one, CandidateRule(64, 10))) == {("doc-1", 0)}
    assert store.candidates(no_bands, one, voted).paragraphs == {}
    # one vote per occurrence: a key twice (two positions) is two votes
    assert candidate_places(store.candidates(no_bands, twice, voted)) == {("doc-1", 0)}
    assert candidate_places(store.candidates(no_bands, two, voted)) == {("doc-1", 0)}
    # band refs are candidates whatever their votes
    bands = FP.split_keys(FP.band_keys([OTHER])[0])[0]
    assert candidate_places(store.candidates(bands, one, voted)) == {("other", 0)}
    for postings in (one, twice, two):
        for rule in (voted, CandidateRule(64, 10, min_votes=3)):
            by_one = store.candidates(bands, postings, rule)
            by_two = candidates_by_two_calls(store, bands, postings, rule)
            assert by_one.hits.as_dict() == by_two.hits.as_dict()
            assert by_one.paragraphs == by_two.paragraphs
