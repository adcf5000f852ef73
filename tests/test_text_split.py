from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.text import split, split_html, split_text


def test_lines_are_paragraphs_without_blank_lines() -> None:
    text = "First paragraph.\nSecond paragraph.\n\n"
    assert [p.text for p in split_text(text)] == ["First paragraph.", "Second paragraph."]


def test_blank_lines_separate_and_single_breaks_are_soft() -> None:
    text = "A hard-wrapped\nparagraph here.\n\nSecond one\r\nalso wrapped.\n \t\nThird."
    paragraphs = split_text(text)
    assert [p.index for p in paragraphs] == [0, 1, 2]
    assert [text[p.start : p.end] for p in paragraphs] == [p.text for p in paragraphs]
    assert paragraphs[0].text == "A hard-wrapped\nparagraph here."
    assert paragraphs[1].text == "Second one\r\nalso wrapped."
    assert paragraphs[2].text == "Third."


def test_surrounding_whitespace_is_trimmed_and_empty_text_has_no_paragraphs() -> None:
    assert split_text("") == []
    assert split_text(" \n\n \n") == []
    (p,) = split_text("\n\n   Only one.  \n\n")
    assert (p.text, p.start, p.end) == ("Only one.", 5, 14)


def test_html_blocks_in_document_order() -> None:
    html = (
        "<html><head><title>Title</title><style>p{color:red}</style></head><body>"
        "<h1>Head &amp; line</h1><p>First <b>bold</b> para.<p>Second<script>alert(1)</script> para"
        "<ul><li>one<li>two</ul><div>direct <em>text</em><div>nested</div> tail</div>"
        "<blockquote><p>quoted</p></blockquote><table><tr><td>c1<td>c2</table>"
        "<figure><figcaption>caption</figcaption></figure><pre>  code   block </pre>trailing</body></html>"
    )
    texts = [p.text for p in split_html(html)]
    assert texts == [
        "Head & line",
        "First bold para.",
        "Second para",
        "one",
        "two",
        "direct text tail",
        "nested",
        "quoted",
        "c1",
        "c2",
        "caption",
        "code block",
        "trailing",
    ]


def test_html_offsets_point_at_the_block() -> None:
    html = "<div><p class='x'>Alpha beta.</p>\n<h2>Gamma</h2></div>"
    first, second = split_html(html)
    assert html[first.start : first.end] == "<p class='x'>Alpha beta.</p>"
    assert html[second.start : second.end] == "<h2>Gamma</h2>"


def test_broken_html_never_fails() -> None:
    assert [p.text for p in split_html("<p>unclosed <div>inner")] == ["unclosed", "inner"]
    assert [p.text for p in split_html("</p></div>stray")] == ["stray"]
    assert [p.text for p in split_html("plain text, no tags")] == ["plain text, no tags"]
    assert split_html("<p>   </p><div></div>") == []


def test_split_dispatches_on_format() -> None:
    assert [p.text for p in split("<p>a</p><p>b</p>", "html")] == ["a", "b"]
    assert [p.text for p in split("<p>a</p><p>b</p>", "text")] == ["<p>a</p><p>b</p>"]


@given(st.text())
def test_text_offsets_always_match(text: str) -> None:
    paragraphs = split_text(text)
    assert [p.index for p in paragraphs] == list(range(len(paragraphs)))
    for p in paragraphs:
        assert text[p.start : p.end] == p.text
        assert p.text.strip() == p.text
        assert p.text


@given(st.text(alphabet=st.sampled_from(list("<>/pdiv &;#x\n ab'\"=-!"))))
def test_html_splitting_is_total(html: str) -> None:
    for p in split_html(html):
        assert p.text.strip() == p.text
        assert p.text
        assert 0 <= p.start <= p.end <= len(html)
