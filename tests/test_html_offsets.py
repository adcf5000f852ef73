"""Where each character of an HTML paragraph's text comes from in the HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.text import html_offsets, split
from app.text.paragraphs import BodyOffsets, Paragraph

PIECES = st.sampled_from(
    [
        "<p>", "</p>", "<div>", "</div>", "<li>", "<br>", "<br/>", "<hr>", "<b>", "</b>", "<i>", "</i>",
        "<img src=x>", "<script>var a = 1;</script>", "<!-- note -->", "&amp;", "&eacute;", "&nbsp;",
        "&#233;", "&#x4e2d;", "&lt;", "&bogus", " ", "  ", "\n", "\t", "Caf", "é", "harbour", "中文",
        "word", ".", ",", "x",
    ]
)  # fmt: skip
DOCUMENTS = st.lists(PIECES, max_size=40).map("".join)


def _source_of(source: str, paragraph: Paragraph, i: int) -> str:
    assert paragraph.offsets is not None
    return source[int(paragraph.offsets.starts[i]) : int(paragraph.offsets.ends[i])]


@given(DOCUMENTS)
def test_every_text_character_maps_to_what_it_was_read_from(source: str) -> None:
    for paragraph in split(source, "html"):
        assert paragraph.offsets is not None
        starts, ends = paragraph.offsets
        assert starts.size == ends.size == len(paragraph.text)
        assert all(0 <= s < e <= len(source) for s, e in zip(starts.tolist(), ends.tolist(), strict=True))
        assert starts.tolist() == sorted(starts.tolist())
        assert paragraph.start <= starts.min() and ends.max() <= max(paragraph.end, ends.max())
        for i, char in enumerate(paragraph.text):
            origin = _source_of(source, paragraph, i)
            if origin.startswith("<"):
                assert char == " "  # a <br>, <hr> or <img> read as a space
            elif char.isspace():
                assert html.unescape(origin).isspace()
            else:
                assert char in html.unescape(origin)


def test_a_span_of_text_covers_its_markup_and_references_in_the_html() -> None:
    source = "<article><p>The <b>harbour</b> caf&eacute; &amp; the   pier<img src=x>re-opened.</p></article>"
    (paragraph,) = split(source, "html")
    assert paragraph.text == "The harbour café & the pier re-opened."
    assert paragraph.offsets is not None
    at = paragraph.text.index("harbour café")
    start = int(paragraph.offsets.starts[at])
    end = int(paragraph.offsets.ends[at + len("harbour café") - 1])
    assert source[start:end] == "harbour</b> caf&eacute;"


def test_plain_text_paragraphs_need_no_map() -> None:
    assert all(p.offsets is None for p in split("One paragraph.\n\nAnother one.", "text"))


def test_the_map_is_worked_out_only_when_asked_for_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    original = html_offsets.paragraph_offsets

    def counted(source: str, runs: Sequence[html_offsets.Run]) -> BodyOffsets:
        made.append(len(runs))
        return original(source, runs)

    monkeypatch.setattr(html_offsets, "paragraph_offsets", counted)
    first, second = split("<p>The caf&eacute; <b>opened</b>.</p><p>Then it closed.</p>", "html")
    assert made == []  # splitting (an ingest) never needs it
    assert first.offsets is not None and first.offsets is first.offsets
    assert len(made) == 1 and second.text == "Then it closed."
