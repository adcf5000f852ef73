"""The passage evaluation's own logic, on a tiny corpus written for the test:
case construction, offsets in text and HTML bodies, IoU and scoring."""

from __future__ import annotations

import html
import random
from typing import Any

import pytest

from benchmarks.quality.corpus import Doc, reference_tokens
from benchmarks.quality.eval_passages import Tally, iou, render
from benchmarks.quality.passage_cases import Builder, Expected, Para, RunIndex, insert_quote

ARCHIVE = [
    Doc(
        "a1",
        [
            "The harbour board met on Tuesday evening to discuss the dredging plan. After three hours of "
            "debate the members agreed to postpone the vote on the new contract until the spring session "
            "of the council. Fishermen who attended said they were relieved.",
            "Short line here.",
        ],
    ),
    Doc(
        "a2",
        [
            "Rain flooded the lower town overnight and the river rose above the old stone bridge. "
            "Firefighters pumped water out of two schools and the library while volunteers "
            "carried sandbags to the shops along the quay before dawn. The mayor thanked them.",
        ],
    ),
]
HELD_OUT = [
    Doc(
        "h1",
        [
            "A new bakery opened its doors on Market Street this week, offering rye loaves, almond pastries "
            "and coffee roasted in the village. Its owner trained in Lyon for six years before coming home.",
            "The choir will give a free concert in the chapel on Sunday, with works by local composers and a "
            "guest organist from the capital. Seats are limited and doors open at five.",
        ],
    )
]


def builder() -> Builder:
    return Builder("en", ARCHIVE, HELD_OUT, seed=1)


def test_unseen_hosts_share_no_run_of_eight_tokens_with_the_archive() -> None:
    b = builder()
    index = RunIndex(ARCHIVE)
    assert b.hosts, "the held-out paragraphs are unseen"
    assert not any(index.shares_run(h) for h in b.hosts)
    copied = ARCHIVE[0].paragraphs[0][:120] + " and more words at the end of it"
    assert index.shares_run(copied)


def test_quotes_are_15_to_45_tokens_and_point_at_their_source() -> None:
    b = builder()
    assert b.quotes
    for doc, p, (start, end) in b.quotes:
        quote = doc.paragraphs[p][start:end]
        assert 15 <= len(reference_tokens(quote)) <= 45
        assert quote.strip() == quote


def test_inserted_quote_span_is_the_quote() -> None:
    rng = random.Random(3)
    host = HELD_OUT[0].paragraphs[0]
    for _ in range(20):
        text, (start, end) = insert_quote(host, "QUOTED WORDS", "en", rng)
        assert text[start:end] == "QUOTED WORDS"
    cases = builder().inserted(5, changed=False)
    for case in cases:
        (para,) = case.paragraphs
        (want,) = para.expected
        doc = next(d for d in ARCHIVE if d.id == want.ref[0])
        assert want.source_span is not None
        source = doc.paragraphs[want.ref[1]][want.source_span[0] : want.source_span[1]]
        assert para.text[want.span[0] : want.span[1]] == source


@pytest.mark.parametrize("mode", ["text", "html"])
def test_offsets_map_paragraph_text_into_the_body(mode: str) -> None:
    paragraphs = [Para("Fish & chips <b>cost</b> less."), Para('Second one, with "quotes" & more.')]
    body, maps = render(paragraphs, mode)
    for para, to_body in zip(paragraphs, maps, strict=True):
        for start, end in [(0, 4), (5, 12), (0, len(para.text))]:
            piece = body[to_body(start) : to_body(end)]
            assert (html.unescape(piece) if mode == "html" else piece) == para.text[start:end]


def test_iou() -> None:
    assert iou((0, 10), (0, 10)) == 1.0
    assert iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert iou((0, 5), (6, 9)) == 0.0


def test_scoring_counts_passages_with_the_right_source_only() -> None:
    want = Expected("archive", ("a1", 0), (10, 30), (0, 20))
    paragraphs = [Para("x" * 40, [want]), Para("y" * 40, negative=True)]
    case_kind = builder().inserted(1, changed=False)[0]
    case_kind.paragraphs = paragraphs
    _, maps = render(paragraphs, "text")
    right = {"source": "archive", "document_id": "a1", "paragraph_index": 0}
    answer: dict[str, Any] = {
        "paragraphs": [
            {
                "matches": [],
                "passages": [right | {"start": 10, "end": 30, "source_start": 0, "source_end": 20}],
            },
            {"matches": [], "passages": []},
        ]
    }
    tally = Tally()
    tally.score(case_kind, "text", answer, maps)
    cell = tally.cell(case_kind.kind, "en", "text")
    assert (cell["n"], cell["hit"], cell["iou_body"], cell["iou_source"]) == (2, 1, [1.0], [1.0])

    wrong = {"source": "archive", "document_id": "a2", "paragraph_index": 0, "start": 10, "end": 30}
    answer["paragraphs"][0]["passages"] = [wrong | {"source_start": 0, "source_end": 20}]
    answer["paragraphs"][1]["passages"] = [wrong | {"source_start": 0, "source_end": 20}]
    other = Tally()
    other.score(case_kind, "text", answer, maps)
    cell = other.cell(case_kind.kind, "en", "text")
    # The quote is missed (0) and the unseen paragraph is flagged (1).
    assert (cell["n"], cell["hit"]) == (2, 1)
