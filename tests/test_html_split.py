"""The HTML splitter: the paragraphs of ordinary HTML as before, the ones
legacy CMSes send between <br>, and no input that makes it raise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.text import split
from app.text.html import split_html
from tests.html_samples import ORDINARY_HTML


def texts_and_spans(html: str) -> list[tuple[str, str]]:
    paragraphs = split_html(html)
    assert [p.index for p in paragraphs] == list(range(len(paragraphs)))
    return [(p.text, html[p.start : p.end]) for p in paragraphs]


@pytest.mark.parametrize(("html", "expected"), ORDINARY_HTML.values(), ids=ORDINARY_HTML.keys())
def test_ordinary_html_splits_as_before(html: str, expected: list[tuple[str, str]]) -> None:
    assert texts_and_spans(html) == expected


def test_a_double_break_separates_paragraphs_and_a_single_one_is_then_soft() -> None:
    html = (
        "<div>First paragraph.<br><br>Second one,<br>wrapped.<br>\n  <br/>"
        "Third one.<br>&nbsp;<br />Fourth.<br><br><br>Fifth.</div>"
    )
    assert texts_and_spans(html) == [
        ("First paragraph.", "First paragraph."),
        ("Second one, wrapped.", "Second one,<br>wrapped."),
        ("Third one.", "Third one."),
        ("Fourth.", "Fourth."),
        ("Fifth.", "Fifth."),
    ]


def test_spans_between_breaks_hold_no_surrounding_whitespace() -> None:
    html = "<div>\n  One, <i>in italics</i> \n<br><br>\n  Two.\n</div>"
    assert texts_and_spans(html) == [("One, in italics", "One, <i>in italics</i>"), ("Two.", "Two.")]


def test_a_single_break_separates_paragraphs_in_a_block_without_double_breaks() -> None:
    html = "<div>One.<br/>Two, <b>bold</b>.<br>Three.</div><div>Four.<br><br>Five<br>still five.</div>"
    assert texts_and_spans(html) == [
        ("One.", "One."),
        ("Two, bold.", "Two, <b>bold</b>."),
        ("Three.", "Three."),
        ("Four.", "Four."),
        ("Five still five.", "Five<br>still five."),
    ]


def test_breaks_inside_paragraph_elements_and_outside_any_block() -> None:
    assert texts_and_spans("<p>Line one<br>Line two</p>") == [
        ("Line one", "Line one"),
        ("Line two", "Line two"),
    ]
    # One paragraph left: the span is the element's, as without the <br>.
    assert texts_and_spans("<p>Only one<br></p><p><br>&nbsp;<br>Another</p>") == [
        ("Only one", "<p>Only one<br></p>"),
        ("Another", "<p><br>&nbsp;<br>Another</p>"),
    ]
    assert texts_and_spans("Wire copy.<br><br>No block at all.") == [
        ("Wire copy.", "Wire copy."),
        ("No block at all.", "No block at all."),
    ]
    # "</br>" is read as a <br>, as browsers do.
    assert texts_and_spans("<div>Before</br>After</div>") == [("Before", "Before"), ("After", "After")]


def test_breaks_in_inline_markup_count_for_their_block() -> None:
    html = "<div><span>One.<br><br></span><span>Two.</span><br><br><em>Three.</em></div>"
    assert [text for text, _ in texts_and_spans(html)] == ["One.", "Two.", "Three."]


def test_blank_blocks_are_not_paragraphs() -> None:
    for html in (
        "<p>&nbsp;</p>",
        "<p> \n\t</p>",
        "<p>&#160;&nbsp;&#xA0; </p>",
        "<div><br><br>&nbsp;<br></div>",
        "<p>\u200b</p>",
        "<p>&#8203;&zwnj;</p>",
        "<p><b> </b><i>&nbsp;</i></p>",
        "<div>&nbsp;<br/>&nbsp;</div>",
    ):
        assert split_html(html) == [], html
    assert texts_and_spans("<p>&nbsp;</p><p>Real text.</p><p>&nbsp;</p>") == [
        ("Real text.", "<p>Real text.</p>")
    ]


def test_text_spans_start_at_the_first_visible_character() -> None:
    # The old splitter counted decoded characters: "&nbsp;" moved the start
    # five characters too early, into the entity.
    assert texts_and_spans("<div>&nbsp; &#160;Text after spaces.</div>") == [
        ("Text after spaces.", "Text after spaces.")
    ]


@pytest.mark.parametrize(
    "html",
    [
        "<![<![",  # an AssertionError in _markupbase, a 500
        "<![",
        "<!",
        "<?",
        "</",
        "<",
        "<a",
        '<p title="',
        "<!--",
        "<!-->",
        "<!--->",
        "<![CDATA[",
        "<script>",
        "&",
        "&#",
        "&#x",
        "</>",
    ],
)
def test_unfinished_markup_never_raises(html: str) -> None:
    for p in split_html(html):
        assert 0 <= p.start < p.end <= len(html)


def test_huge_numeric_references_are_replacement_characters() -> None:
    # html.unescape raises ValueError on more than 4,300 decimal digits.
    html = "<p>a &#" + "1" * 5000 + "; b &#x" + "f" * 5000 + "; c &#00000065;</p>"
    assert [p.text for p in split_html(html)] == ["a \ufffd b \ufffd c A"]


FRAGMENTS = [
    "<p>", "</p>", "<div>", "</div>", "<li>", "<td>", "<br>", "<br/>", "</br>", "<b>", "</b>",
    "<script>", "</script>", "<style>", "<noscript>", "</noscript>", "<p class='a>b'>", '<a href="',
    "<!--", "-->", "<!-- wp:paragraph -->", "<![", "<![CDATA[", "]]>", "<!", "<?", "?>", "</", "<",
    ">", "/>", "'", '"', "=", "&nbsp;", "&amp;", "&#", "&#x", ";", "\u200b", " ", "\n", "text", "é",
]  # fmt: skip
html_ish = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join)


@given(html_ish)
def test_html_splitting_never_raises_and_keeps_offsets_in_order(html: str) -> None:
    paragraphs = split(html, "html")
    assert [p.index for p in paragraphs] == list(range(len(paragraphs)))
    latest_start = -1
    for p in paragraphs:
        assert p.text
        assert p.text == p.text.strip()
        assert 0 <= p.start < p.end <= len(html)
        # Paragraphs come in the order of their first text, which lies inside
        # each span: no paragraph may lie wholly before an earlier one.
        assert p.end > latest_start
        latest_start = max(latest_start, p.start)
