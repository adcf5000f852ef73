"""The /check answer is encoded straight from the engine's results
(check_report.check_answer): it must be the CheckResponse model's own JSON,
byte for byte, whatever the results hold."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from app.engine import DocumentInput, IngestResult, Match, ParagraphResult, Service
from app.engine.check_report import ENCODED_TOGETHER, CheckResponse, check_answer, check_response
from app.engine.passages import Passage
from app.text import Paragraph

texts = st.text(st.characters(codec="utf-8"), max_size=40)
scores = st.floats(0.0, 1.0, allow_nan=False)
sources = st.sampled_from(["article", "archive"])
ids = st.none() | texts
counts = st.integers(0, 10_000)
matches = st.builds(Match, sources, ids, counts, scores, scores, texts)
passages = st.builds(Passage, counts, counts, sources, ids, counts, counts, counts, texts, texts)
paragraphs = st.builds(Paragraph, counts, counts, counts, texts)
results = st.builds(
    ParagraphResult,
    paragraphs,
    st.booleans(),
    st.lists(matches, max_size=3),
    counts,
    st.booleans(),
    st.none() | counts,
    st.integers(1, 50),
    st.lists(passages, max_size=3),
)
ingested = st.none() | st.builds(
    IngestResult, texts, st.sampled_from(["created", "updated", "unchanged"]), counts
)


@given(st.lists(results, max_size=4), ingested)
def test_the_answer_is_the_models_json_byte_for_byte(
    found: list[ParagraphResult], outcome: IngestResult | None
) -> None:
    assert check_answer(found, outcome) == check_response(found, outcome).model_dump_json().encode()


def test_a_long_answer_encoded_in_pieces_is_the_same_json() -> None:
    long = [
        ParagraphResult(Paragraph(i, 10 * i, 10 * i + 9, f'paragraph "{i}" [] ends'), i % 2 == 0)
        for i in range(3 * ENCODED_TOGETHER + 5)
    ]
    long[7].matches.append(Match("article", None, 3, 0.5, 1.0, "the text"))
    outcome = IngestResult('an id with "paragraphs":[] in it', "created", len(long))
    encoded = check_answer(long, outcome)
    assert encoded == check_response(long, outcome).model_dump_json().encode()
    assert len(json.loads(encoded)["paragraphs"]) == len(long)


def test_a_real_check_with_every_kind_of_finding_encodes_like_the_model(service: Service) -> None:
    archived = (
        "The harbour authority approved the new container terminal on Tuesday after a decade of "
        "debate among residents, shipping firms and the city council about noise and traffic."
    )
    quote = (
        "the council said the decision would bring four hundred jobs to the eastern docks within two years"
    )
    service.ingest([DocumentInput("city/1", f"{archived}\n\nA second paragraph, {quote}, it said.")])
    article = "\n\n".join(
        [
            archived,  # an archive duplicate
            f"Reporters heard that {quote}, and they asked questions.",  # an archive passage
            "Short line.",  # short
            archived,  # a repeat inside the article
        ]
    )
    found = service.check(article)
    assert found[0].matches and found[1].passages and found[2].short and found[3].repeat_of == 0
    body = check_answer(found)
    assert body == check_response(found).model_dump_json().encode()
    assert CheckResponse.model_validate_json(body).paragraphs[3].repeat_of == 0
