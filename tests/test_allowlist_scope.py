"""An allowed phrase excuses only itself: a copied paragraph with the phrase
appended is still a copy, while the phrase alone (or lightly edited, or
appended to new text) stays allowlisted."""

from __future__ import annotations

import pytest

from app.engine import DocumentInput, Service
from app.engine.check import ParagraphResult

PHRASE = "Sign up for our morning newsletter to get the headlines in your inbox every day"

# One hundred words of an archived report; copies take its first n words.
REPORT = (
    "The harbour authority confirmed on Monday that the northern breakwater will close for repairs "
    "from the first week of March, after divers found cracks along a forty metre stretch of the "
    "old stone wall. Fishing crews who moor behind it were told to move to the eastern basin, where "
    "twelve temporary berths are being fitted with power and fresh water. The chief engineer said "
    "the work should last about five months if the spring storms are mild, and promised weekly "
    "updates on the ferry timetable, which changes because boats must turn wider near the entrance "
    "while cranes stand on the quay beside the lighthouse steps"
)
WORDS = REPORT.split()
assert len(WORDS) >= 100

NEW_TEXT = (
    "A choir of retired teachers gave its first concert in the old mill on Saturday evening, "
    "raising money for the new library roof"
)


TIDES = "The tide tables for the week ahead are printed on page nine."


def copy_of(n: int) -> str:
    return " ".join(WORDS[:n]) + "."


def paragraph(service: Service, text: str) -> ParagraphResult:
    (result,) = service.check(text)
    return result


@pytest.fixture
def archive(service: Service) -> Service:
    service.ingest(
        [DocumentInput(f"copy-{n}", copy_of(n)) for n in (12, 20, 40, 60, 100)]
        + [DocumentInput("pitch-alone", f"Rain is expected over the hills until Thursday.\n\n{PHRASE}.")]
        + [DocumentInput("with-pitch", f"{TIDES} {PHRASE}.")]
    )
    _, status = service.allow(PHRASE, "newsletter pitch")
    assert status == "created"
    return service


@pytest.mark.parametrize("words", [12, 20, 40, 60, 100])
def test_a_copy_with_the_phrase_appended_is_still_a_copy(archive: Service, words: int) -> None:
    result = paragraph(archive, f"{copy_of(words)} {PHRASE}.")
    assert not result.allowlisted
    assert f"copy-{words}" in {m.document_id for m in result.matches}
    assert all(not (m.document_id or "").startswith("__allowlist__") for m in result.matches)


def test_a_copy_of_an_archived_paragraph_that_had_the_phrase_too(archive: Service) -> None:
    result = paragraph(archive, f"{TIDES} {PHRASE}.")
    assert not result.allowlisted
    assert [m.document_id for m in result.matches] == ["with-pitch"]


@pytest.mark.parametrize(
    "text",
    [
        PHRASE,
        PHRASE.upper() + "!",
        PHRASE.replace("morning", "evening"),  # one word changed
        PHRASE.replace(" every day", ""),  # words dropped
        PHRASE.replace("the headlines", "headlines"),
        f"{NEW_TEXT}. {PHRASE}.",  # the phrase appended to text the archive does not hold
    ],
)
def test_the_phrase_alone_or_lightly_edited_stays_allowlisted(archive: Service, text: str) -> None:
    result = paragraph(archive, text)
    assert result.allowlisted
    assert result.matches == []


def test_without_the_allowlist_the_phrase_is_a_match(service: Service) -> None:
    service.ingest([DocumentInput("pitch-alone", f"{NEW_TEXT}.\n\n{PHRASE}.")])
    assert paragraph(service, PHRASE).matches
