"""HTML paragraphs: one per block element holding text, in document order.

Built on the standard library's tolerant parser because it reports where
each tag sits in the source: a paragraph's ``start``/``end`` span its block
element in the submitted HTML, so a CMS can highlight it. Broken markup
never fails: unclosed blocks end where the next block or the document ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from app.text.paragraphs import Paragraph

# Elements that are paragraphs themselves: their span is the whole element.
PARAGRAPH_ELEMENTS = frozenset(
    "p h1 h2 h3 h4 h5 h6 li blockquote pre figcaption td th dt dd caption summary address legend".split()
)
# Containers: text directly inside one is a paragraph whose span is that of
# the text (a div holding text, stray text in body), so it is not glued onto
# a neighbouring block.
CONTAINERS = frozenset(
    "div section article main header footer aside nav figure ul ol dl table tr thead tbody tfoot "
    "form fieldset details body html".split()
)
BLOCKS = PARAGRAPH_ELEMENTS | CONTAINERS
IGNORED = frozenset("script style noscript template head title svg math iframe object".split())
VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
# Opening one of these closes an open element of the same group (HTML's
# implied end tags), e.g. "<li>a<li>b" is two items.
_SIBLING_GROUPS = ({"li"}, {"dt", "dd"}, {"td", "th"}, {"tr"}, {"p"})
_SPACE = re.compile(r"\s+")


@dataclass
class _Block:
    tag: str
    start: int
    end: int = -1
    order: int = -1  # rank of its first text in the document
    text_start: int = -1
    text_end: int = -1
    parts: list[str] = field(default_factory=list)

    def span(self) -> tuple[int, int]:
        if self.tag in PARAGRAPH_ELEMENTS:
            return self.start, self.end
        return self.text_start, self.text_end


class _Splitter(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\r\n|\n|\r", source)]
        self.stack: list[_Block] = []
        self.done: list[_Block] = []
        self.ignored_depth = 0
        self.root = _Block("#document", 0)
        self.texts_seen = 0
        self.last_text: _Block | None = None  # its text runs until the next tag

    def _position(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _close_until(self, index: int, end: int, matched_end: int | None = None) -> None:
        """Close the open blocks above ``index``; the deepest one closed ends
        at ``matched_end`` (after its end tag), the others where it starts."""
        while len(self.stack) > index:
            block = self.stack.pop()
            block.end = matched_end if matched_end is not None and len(self.stack) == index else end
            self.done.append(block)

    def _end_text(self) -> None:
        if self.last_text is not None:
            self.last_text.text_end = self._position()
            self.last_text = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._end_text()
        if tag in IGNORED:
            self.ignored_depth += 1
            return
        if tag in VOID:
            if tag in ("br", "hr", "img"):
                self.handle_data(" ")
            return
        if tag not in BLOCKS:
            return
        start = self._position()
        if self.stack:
            top = self.stack[-1].tag
            if top == "p" or any(tag in group and top in group for group in _SIBLING_GROUPS):
                self._close_until(len(self.stack) - 1, start)
        self.stack.append(_Block(tag, start))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCKS:  # "<div/>" holds nothing
            return
        self.handle_starttag(tag, attrs)
        if tag in IGNORED:
            self.ignored_depth -= 1

    def handle_endtag(self, tag: str) -> None:
        self._end_text()
        if tag in IGNORED:
            self.ignored_depth = max(0, self.ignored_depth - 1)
            return
        if tag not in BLOCKS:
            return
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                at = self._position()
                close = self.source.find(">", at)
                self._close_until(i, at, len(self.source) if close < 0 else close + 1)
                return
        # An end tag with no open element of its kind is ignored, as browsers do.

    def handle_data(self, data: str) -> None:
        if self.ignored_depth:
            return
        block = self.stack[-1] if self.stack else self.root
        if block.order < 0 and data.strip():
            block.order = self.texts_seen
            self.texts_seen += 1
            block.text_start = self._position() + len(data) - len(data.lstrip())
        block.parts.append(data)
        self.last_text = block

    def paragraphs(self) -> list[Paragraph]:
        self.close()
        if self.last_text is not None:
            self.last_text.text_end = len(self.source)
        self._close_until(0, len(self.source))
        blocks = sorted((b for b in (self.root, *self.done) if b.order >= 0), key=lambda b: b.order)
        out: list[Paragraph] = []
        for block in blocks:
            text = _SPACE.sub(" ", "".join(block.parts)).strip()
            if text:
                start, end = block.span()
                out.append(Paragraph(len(out), start, end, text))
        return out


def split_html(source: str) -> list[Paragraph]:
    """Paragraphs of an HTML document or fragment; ``start``/``end`` span the
    block element in ``source`` (the whole source for text outside blocks)."""
    splitter = _Splitter(source)
    splitter.feed(source)
    return splitter.paragraphs()


__all__ = ["BLOCKS", "split_html"]
