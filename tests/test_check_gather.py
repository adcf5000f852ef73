"""How a check gets its candidate paragraphs (app/store/base.gather): an
embedded store is asked for the rows the check chose, in a second call; a
networked one brings the rule's candidates in its one call. Both answer the
same, and the embedded store reads no row the check has no use for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from app.api.routes.check import _answer
from app.engine import DocumentInput, Service
from app.store import StoredParagraph
from app.store.base import CandidateRule, Keys, candidates_by_two_calls

ARTICLE = "\n\n".join(
    [
        "The harbour commission met on Tuesday evening to weigh the dredging plan, and after four hours "
        "of argument the members agreed that the old quay would close for the whole of next summer.",
        "Fishing crews, who land most of their catch at the old quay, asked for a temporary pontoon and "
        "were told that the budget for the year had already been spent on the new lighthouse lamp.",
        "A spokesperson for the commission said the decision could be revisited in the spring, once the "
        "engineers have reported on how far the silt has spread beyond the mouth of the river.",
    ]
)
# An edited copy of the first paragraph: bands propose it, and it matches.
EDITED = (
    "The harbour commission met on Tuesday night to weigh the dredging plan, and after four hours of "
    "argument its members agreed that the old quay would close for the whole of next summer."
)
# The second paragraph's closing clause quoted in another story: a passage.
QUOTING = (
    "At the council meeting a councillor complained that the budget for the year had already been spent "
    "on the new lighthouse lamp, and asked who had signed the order without a vote."
)
# Shares one rare passage fingerprint with the first paragraph: a posting of
# it finds it, but seeds need two, so no check uses it and the rule
# (min_votes) proposes it to no backend.
ONE_PRINT = (
    "Residents of the valley said the new bus timetable left them stranded, and one farmer told us "
    "that the old quay would shut, which nobody at the council would confirm on the record."
)


@pytest.fixture
def archived(service: Service) -> Service:
    docs = (("edited", EDITED), ("quoting", QUOTING), ("one-print", ONE_PRINT))
    service.ingest([DocumentInput(doc_id, text) for doc_id, text in docs])
    return service


def test_one_print_shares_a_single_fingerprint_and_no_band(archived: Service) -> None:
    # The premise of the next test, checked rather than assumed.
    fp = archived.checker.fp
    prints = fp.prints([ARTICLE.split("\n\n")[0], ONE_PRINT], tokens=True)
    assert prints.winnowed is not None
    first, other = ({int(v) for v in w[0]} for w in prints.winnowed)
    assert len(first & other) == 1
    assert not set(prints.bands[0].tolist()) & set(prints.bands[1].tolist())


def test_an_embedded_store_reads_only_the_rows_a_check_uses(
    archived: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = archived.store
    assert store.local
    read: list[int] = []
    rule_candidates: list[set[int]] = []
    asked: list[tuple[Keys, Keys, CandidateRule]] = []
    paragraphs = store.paragraphs

    def spy_paragraphs(refs: Sequence[int]) -> dict[int, StoredParagraph]:
        read.extend(refs)
        return paragraphs(refs)

    def spy_candidates(bands: Keys, postings: Keys, rule: CandidateRule) -> object:
        asked.append((bands, postings, rule))
        found = candidates_by_two_calls(store, bands, postings, rule)
        rule_candidates.append(set(found.paragraphs))
        return found

    monkeypatch.setattr(store, "paragraphs", spy_paragraphs)
    local = _answer(archived.check(ARTICLE), None)
    chosen = set(read)
    ids = {p.document_id for p in paragraphs(sorted(chosen)).values()}
    assert ids == {"edited", "quoting"}  # the match and the passage's source, not one-print

    # The same store answering as a networked one: the rule's candidates in
    # one call, and the same answer. One-print is found under one fingerprint
    # and needs two votes: no backend brings it.
    monkeypatch.setattr(store, "local", False)
    monkeypatch.setattr(store, "candidates", spy_candidates)
    remote = _answer(archived.check(ARTICLE), None)
    assert remote == local
    (proposed,) = rule_candidates
    assert chosen <= proposed
    assert "one-print" not in {p.document_id for p in paragraphs(sorted(proposed)).values()}
    # ... which one vote would have brought
    bands, postings, rule = asked[0]
    one_vote = candidates_by_two_calls(store, bands, postings, replace(rule, min_votes=1))
    assert {p.document_id for p in one_vote.paragraphs.values()} - ids == {"one-print"}


def test_the_answer_names_the_match_and_the_passage(archived: Service) -> None:
    results = archived.check(ARTICLE)
    assert [m.document_id for m in results[0].matches] == ["edited"]
    sources = {p.document_id for r in results for p in r.passages if p.source == "archive"}
    assert "quoting" in sources
    assert "one-print" not in sources
