"""HTML splitting costs work linear in the size of its input, on every
adversarial shape: doubling the input at most doubles the work.

Work is counted, never timed. The splitter counts the characters each of its
searches examined plus one per token, tag and block (its regexes cannot
backtrack: see app/text/html_scan.py). A second, independent count, the
Python lines the splitter executes, catches any loop the first one misses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from app.text import html as html_module
from app.text import html_scan
from app.text.html import split_html, split_html_counted

Shape = Callable[[int], str]


def repeat(unit: str, prefix: str = "", suffix: str = "") -> Shape:
    return lambda n: prefix + unit * (n // len(unit)) + suffix


def nested(opening: str, middle: str, closing: str) -> Shape:
    return lambda n: opening * (n // (2 * len(opening))) + middle + closing * (n // (2 * len(closing)))


SHAPES: dict[str, Shape] = {
    # The repro inputs, and their relatives.
    "unclosed tags": repeat("<a "),
    "unclosed tags with attributes": repeat("<div class=x id='y' "),
    "deep nesting closed by stray end tags": nested("<div>", "x ", "</p>"),
    "deep nesting closed": nested("<div>", "x", "</div>"),
    "misnested": nested("<li><div><span>", "x", "</li>"),
    "unclosed blocks": repeat("<div>"),
    "stray end tags": repeat("</p>"),
    "stray end tags with attributes": repeat("</div a=b>"),
    "long attribute": lambda n: '<p title="' + "x" * n + '">text</p>',
    "long unquoted attribute": lambda n: "<p title=" + "x" * n + ">text</p>",
    "many attributes": lambda n: "<p " + "a=1 " * (n // 4) + ">text</p>",
    "unterminated quote": lambda n: '<p title="' + "x>" * (n // 2),
    "unterminated quotes": repeat("<p a=\"'>"),
    "quotes inside attributes": repeat("<p a='\">' b=\"'>\">x"),
    "long tag name": lambda n: "<" + "a" * n + ">",
    "unterminated comment": lambda n: "<!--" + "x-" * (n // 2),
    "comment openers": repeat("<!--"),
    "almost closed comments": repeat("<!-- x --!"),
    "comments": repeat("<!-- wp:paragraph -->x"),
    "marked sections": repeat("<!["),
    "declarations": repeat("<!"),
    "processing instructions": repeat("<?"),
    "bogus end tags": repeat("</ "),
    "end tag openers": repeat("</"),
    "lone angle brackets": repeat("<"),
    "lone ampersands": repeat("&"),
    "entities": repeat("&amp;"),
    "invisible entities": repeat("&nbsp;", suffix="x"),
    "entity openers": repeat("&#"),
    "huge numeric entity": lambda n: "&#" + "9" * n + ";",
    "huge hex entity": lambda n: "&#x" + "f" * n + ";",
    "breaks": repeat("<br>"),
    "paragraphs between breaks": repeat("x<br>"),
    "paragraphs between double breaks": repeat("x<br><br>"),
    "breaks with blank text between": repeat("<br>&nbsp;"),
    "unclosed scripts": repeat("<script>"),
    "almost closed scripts": repeat("<script>x</scrip"),
    "closed scripts": repeat("<style>p{}</style>"),
    "ignored elements": repeat("<noscript>"),
    "implied end tags": repeat("<li>x"),
    "implied end tags in tables": repeat("<tr><td>x"),
    "paragraphs": repeat("<p>word</p>\n"),
    "whitespace": repeat(" \n\t"),
    "inline tags": repeat("<b>x</b>"),
}

SIZE = 50_000
MAX_STEPS_PER_CHARACTER = 12


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_work_grows_linearly(shape: Shape) -> None:
    small, large = shape(SIZE), shape(2 * SIZE)
    assert len(large) >= 2 * len(small) - 20
    small_steps = split_html_counted(small)[1]
    large_steps = split_html_counted(large)[1]
    assert large_steps <= 2.1 * small_steps
    assert large_steps <= MAX_STEPS_PER_CHARACTER * len(large)


def lines_executed(source: str) -> int:
    """Python lines run while splitting ``source``, in any module."""
    lines = 0

    def count(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal lines
        lines += event == "line"
        return count

    previous = sys.gettrace()
    sys.settrace(count)
    try:
        split_html(source)
    finally:
        sys.settrace(previous)
    return lines


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_python_lines_grow_linearly(shape: Shape) -> None:
    # Smaller sizes: tracing every line is slow, and any per-token loop the
    # step counter forgot shows here as more than doubled lines.
    small, large = shape(SIZE // 5), shape(2 * SIZE // 5)
    assert lines_executed(large) <= 2.1 * lines_executed(small) + 50


def test_the_line_count_sees_a_quadratic_splitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cross-check can fail: with end tags searching the stack for their
    element (what the previous splitter did), deep nesting is quadratic."""

    def end_tag_scanning_the_stack(self: Any, tag: html_scan.Tag) -> None:
        self._end_text(tag.start)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag.name:
                while len(self.stack) > i:
                    self._pop(tag.start)
                return

    monkeypatch.setattr(html_module._Splitter, "end_tag", end_tag_scanning_the_stack)
    shape = SHAPES["deep nesting closed by stray end tags"]
    small, large = shape(SIZE // 10), shape(2 * SIZE // 10)
    assert lines_executed(large) > 3 * lines_executed(small)
