"""`paradup check` with passages: the report prints each one (span, quoted
words, source) and the summary tells reuse from duplication; --json carries
them as the API does."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from app.api.factory import create_app
from app.cli import main
from app.cli.report import QUOTE, print_report, shorten
from app.engine.check_report import CheckResponse, MatchOut, ParagraphOut, PassageOut
from app.settings import Settings
from tests.articles import ARCHIVED_EN
from tests.conftest import Server


def _passage(text: str, source_text: str, **fields: Any) -> PassageOut:
    place = {"start": 0, "end": len(text), "source_start": 0, "source_end": len(source_text)}
    where = {"source": "archive", "document_id": "2026/harbour", "paragraph_index": 1}
    return PassageOut(**{**place, **where, **fields, "text": text, "source_text": source_text})


def _paragraph(index: int, text: str, passages: list[PassageOut], duplicate: bool = False) -> ParagraphOut:
    where = {"source": "archive", "document_id": "2026/harbour", "paragraph_index": 1}
    match = MatchOut(**where, similarity=1.0, containment=1.0, text=text)
    return ParagraphOut(
        index=index,
        start=0,
        end=len(text),
        text=text,
        status="duplicate" if duplicate else "unique",
        short=False,
        matches=[match] if duplicate else [],
        passages=passages,
    )


def _report(response: CheckResponse) -> str:
    out = io.StringIO()
    print_report(response, Console(file=out, width=400, color_system=None))
    return out.getvalue()


QUOTED = (
    "The harbour authority confirmed on Monday that the northern pier will close for repairs until "
    "the end of March, after divers found corrosion on several supporting columns."
)


def test_report_prints_each_passage_with_its_span_and_source() -> None:
    edited = QUOTED.replace("confirmed", "said")
    from_archive = _passage(edited, QUOTED, start=40, end=40 + len(edited), source_start=3, source_end=170)
    five = "the northern pier will close"
    from_article = _passage(
        five, five, start=117, end=145, source="article", document_id=None, paragraph_index=0
    )
    paragraphs = [
        _paragraph(0, "Opening words of the article, quoting: " + edited, [from_archive]),
        _paragraph(1, f"A fresh paragraph that repeats five words: {five}.", [from_article]),
    ]
    response = CheckResponse(duplicate=False, reuse=True, paragraphs=paragraphs)
    lines = _report(response).splitlines()
    assert lines[1] == (
        f"      ≈ passage, characters 40-{40 + len(edited)}, from archived document 2026/harbour, "
        "paragraph 2 (with edits)"
    )
    # long: its first and last words, whole
    assert lines[2] == '        "The harbour authority said on Monday … supporting columns."'
    assert lines[4] == "      ≈ passage, characters 117-145, from this article, paragraph 1"
    assert lines[5] == '        "the northern pier will close"'
    # a passage alone is no duplicate: the summary says there is reuse
    assert lines[-1] == "no duplicates among 2 paragraphs, but 2 hold reused passages"


def test_report_summary_with_duplicates_and_passages() -> None:
    response = CheckResponse(
        duplicate=True,
        reuse=True,
        paragraphs=[
            _paragraph(0, QUOTED, [_passage(QUOTED, QUOTED)], duplicate=True),
            _paragraph(1, "Nothing reused in this paragraph at all, it is all new.", []),
        ],
    )
    report = _report(response)
    assert "↳ repeats archived document 2026/harbour, paragraph 2" in report
    assert "(with edits)" not in report
    assert report.splitlines()[-1] == "1 of 2 paragraphs are duplicates; 1 holds reused passages"
    clean = CheckResponse(duplicate=False, reuse=False, paragraphs=[response.paragraphs[1]])
    assert _report(clean).splitlines()[-1] == "no duplicates among 1 paragraphs"


def test_report_prints_passage_text_as_text() -> None:
    text = "[bold]not markup[/bold] and [link=http://x]no link[/link]"
    paragraphs = [_paragraph(0, text, [_passage(text, text)])]
    response = CheckResponse(duplicate=False, reuse=True, paragraphs=paragraphs)
    assert f'"{text}"' in _report(response)


@given(st.lists(st.text(alphabet="abcdéfg字", min_size=1, max_size=15), min_size=1, max_size=40))
def test_shorten_keeps_whole_words_around_one_ellipsis(words: list[str]) -> None:
    text = " \n".join(words)
    short = shorten(text)
    flat = " ".join(words)
    if len(flat) <= QUOTE:
        assert short == flat
        return
    head, tail = short.split(" … ")
    assert flat.startswith(head) and flat.endswith(tail)
    # cut at word boundaries: each side is a run of whole words (or one word cut when it alone is too long)
    assert head == flat[: len(head)] and (flat[len(head)] == " " or " " not in head)
    assert tail == flat[-len(tail) :] and (flat[-len(tail) - 1] == " " or " " not in tail)
    assert len(short) <= QUOTE


# Paragraphs of our own: the second quotes two thirds of ARCHIVED_EN's first
# paragraph word for word (too little of it for a near-duplicate match), the
# last repeats words of the first one.
QUOTED_PART = QUOTED[QUOTED.index("the northern") :]
QUOTING_ARTICLE = "\n\n".join(
    [
        "Council members met on Thursday evening to discuss the future of the old fish market, which "
        "has stood empty since the spring and which several groups would like to turn into a hall.",
        "Residents of the waterfront had been warned weeks earlier: " + QUOTED_PART + " Shop owners near "
        "the quay fear a quiet winter, and some have asked the council for help with their rent.",
        "Nobody at the meeting wanted to decide quickly. The old fish market has stood empty since "
        "the spring and which several groups would like to turn into a hall, one member repeated.",
    ]
)


@pytest.mark.slow  # a real server for --url
def test_check_reports_passages_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = f"sqlite:///{tmp_path}/cli.db"
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(json.dumps({"id": "harbour", "text": ARCHIVED_EN}) + "\n", encoding="utf-8")
    assert main(["ingest", "--store", store, "--quiet", str(jsonl)]) == 0
    capsys.readouterr()
    article = tmp_path / "article.txt"
    article.write_text(QUOTING_ARTICLE, encoding="utf-8")

    # passages alone: no duplicate, exit 0, reuse said in the summary
    assert main(["check", "--store", store, str(article)]) == 0
    report = capsys.readouterr().out
    assert "from archived document harbour, paragraph 1" in report
    assert "from this article, paragraph 1" in report
    assert report.splitlines()[-1] == "no duplicates among 3 paragraphs, but 2 hold reused passages"

    assert main(["check", "--store", store, "--json", str(article)]) == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["duplicate"], body["reuse"]) == (False, True)
    (archived,) = body["paragraphs"][1]["passages"]
    assert [archived[k] for k in ("source", "document_id", "paragraph_index")] == ["archive", "harbour", 0]
    assert QUOTING_ARTICLE[archived["start"] : archived["end"]] == archived["text"]
    first = ARCHIVED_EN.split("\n\n")[0]
    assert first[archived["source_start"] : archived["source_end"]] == archived["source_text"]
    assert archived["text"].startswith("the northern pier")
    (repeat,) = body["paragraphs"][2]["passages"]
    assert [repeat[k] for k in ("source", "document_id", "paragraph_index")] == ["article", None, 0]
    # the same response model as the API's, and through a running service the same report
    with TestClient(create_app(Settings(store=store))) as client:
        assert client.post("/check", json={"text": QUOTING_ARTICLE}).json() == body
    with Server(store) as server:
        assert main(["check", "--url", server.url, "--json", str(article)]) == 0
        assert json.loads(capsys.readouterr().out) == body
        assert main(["check", "--url", server.url, str(article)]) == 0
        assert capsys.readouterr().out == report
