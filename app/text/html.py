"""HTML paragraphs: one per block element holding text, in document order.

A paragraph's ``start``/``end`` span its block element in the submitted HTML
(for text directly inside a container, the span of that text), so a CMS can
highlight it. Broken markup never fails: unclosed blocks end where the next
block or the document ends, stray end tags are ignored.

Legacy CMSes and wire feeds send paragraphs without ``<p>``, separated by
``<br>``: as in plain text, a double ``<br>`` (only blank text between)
separates paragraphs inside a block, and in a block that holds no double
``<br>`` a single one does. Blocks that show nothing (whitespace,
``&nbsp;``) are not paragraphs.

Linear in the size of the input: the tokenizer (app.text.html_scan) never
rescans, and here every tag costs a bounded amount of work plus the pops of
blocks it closes, each block being popped once (the open blocks are counted
by name, so an end tag with no open element of its kind costs nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from app.text.html_offsets import LazyOffsets, Run
from app.text.html_scan import Tag, Text, Work, decode, first_visible, scan
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
# Opening one of these closes an open element of the same group on top of
# the stack (HTML's implied end tags), e.g. "<li>a<li>b" is two items.
_SIBLING_GROUPS = ({"li"}, {"dt", "dd"}, {"td", "th"}, {"tr"}, {"p"})
_SIBLINGS = {tag: group for group in _SIBLING_GROUPS for tag in group}
_SPACE = re.compile(r"\s+")
NO_RUN = Run("", 0, 0)


@dataclass(slots=True)
class _Piece:
    """A text run of a block, or one of its <br>."""

    text: str  # decoded; a <br> reads as a space when it separates nothing
    until: int  # where the block's text runs to: the next tag after it
    visible_at: int = -1  # offset of its first visible character, -1 if blank
    rank: int = -1  # document order of its visible text
    is_break: bool = False
    # What it was read from: its text run, or the tag a space stands for.
    source: Run = NO_RUN


@dataclass(slots=True)
class _Block:
    tag: str
    start: int
    end: int = -1
    pieces: list[_Piece] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Found:
    rank: int
    start: int
    end: int
    text: str
    offsets: LazyOffsets | None = None


def _separators(pieces: list[_Piece]) -> list[tuple[int, int]]:
    """(first, last) piece index of every run of <br> that separates
    paragraphs: runs of two or more when there is one, else every run."""
    runs: list[tuple[int, int, int]] = []  # first, last, number of <br>
    for i, piece in enumerate(pieces):
        if piece.is_break:
            if runs and runs[-1][1] == i - 1:
                first, _, count = runs[-1]
                runs[-1] = (first, i, count + 1)
            else:
                runs.append((i, i, 1))
        elif piece.rank < 0 and runs and runs[-1][1] == i - 1:
            first, _, count = runs[-1]  # blank text between two <br> keeps the run open
            runs[-1] = (first, i, count)
    doubles = [(first, last) for first, last, count in runs if count >= 2]
    return doubles or [(first, last) for first, last, _ in runs]


def _segments(pieces: list[_Piece]) -> Iterator[list[_Piece]]:
    at = 0
    for first, last in _separators(pieces):
        yield pieces[at:first]
        at = last + 1
    yield pieces[at:]


def _trimmed_end(source: str, start: int, end: int, work: Work) -> int:
    """``end`` moved back over the whitespace before it, not before ``start``."""
    stop = end
    while stop > start + 1 and source[stop - 1].isspace():
        stop -= 1
    work.steps += end - stop + 1
    return stop


def _paragraphs_of(source: str, block: _Block, work: Work) -> Iterator[_Found]:
    found = []
    for segment in _segments(block.pieces):
        visible = [p for p in segment if p.rank >= 0]
        work.steps += len(segment) + 1
        if visible:
            text = _SPACE.sub(" ", "".join(p.text for p in segment)).strip()
            work.steps += len(text)
            start = visible[0].visible_at
            # After the closing tags of its text, before the next <br>.
            last = next(p for p in reversed(segment) if not p.is_break)
            end = _trimmed_end(source, start, last.until, work)
            offsets = LazyOffsets(source, [p.source for p in segment])
            work.steps += len(segment) + len(text)
            found.append(_Found(visible[0].rank, start, end, text, offsets))
    if len(found) == 1:  # the whole block, as before paragraphs could be split by <br>
        (only,) = found
        if block.tag in PARAGRAPH_ELEMENTS:
            yield _Found(only.rank, block.start, block.end, only.text, only.offsets)
        else:
            yield _Found(only.rank, only.start, block.pieces[-1].until, only.text, only.offsets)
    else:
        yield from found


class _Splitter:
    def __init__(self, source: str) -> None:
        self.source = source
        self.work = Work()
        self.root = _Block("#document", 0)
        self.stack: list[_Block] = []
        self.open_count: dict[str, int] = {}  # open blocks by tag
        self.done: list[_Block] = [self.root]
        self.ignored_depth = 0
        self.ranks = 0
        self.last_piece: _Piece | None = None  # its text runs until the next tag

    def _push(self, block: _Block) -> None:
        self.stack.append(block)
        self.open_count[block.tag] = self.open_count.get(block.tag, 0) + 1

    def _pop(self, end: int) -> _Block:
        block = self.stack.pop()
        self.open_count[block.tag] -= 1
        block.end = end
        self.done.append(block)
        self.work.steps += 1
        return block

    def _add(self, piece: _Piece) -> None:
        (self.stack[-1] if self.stack else self.root).pieces.append(piece)
        self.last_piece = piece

    def _end_text(self, at: int) -> None:
        if self.last_piece is not None:
            self.last_piece.until = at
            self.last_piece = None

    def text(self, run: Text) -> None:
        if self.ignored_depth:
            return
        text = decode(self.source[run.start : run.end], self.work)
        piece = _Piece(text, run.end, source=Run(text, run.start, run.end))
        piece.visible_at = first_visible(self.source, run.start, run.end, self.work)
        if piece.visible_at >= 0:
            piece.rank = self.ranks
            self.ranks += 1
        self._add(piece)

    def start_tag(self, tag: Tag) -> None:
        name = tag.name
        if tag.self_closing and name in BLOCKS:  # "<div/>" holds nothing
            return
        self._end_text(tag.start)
        if name in IGNORED:
            self.ignored_depth += 0 if tag.self_closing else 1
            return
        if name in VOID:
            if name in ("br", "hr", "img") and not self.ignored_depth:
                self._add(
                    _Piece(" ", tag.end, is_break=name == "br", source=Run(" ", tag.start, tag.end, True))
                )
            return
        if name not in BLOCKS:
            return
        if self.stack:
            top = self.stack[-1].tag
            if top == "p" or top in _SIBLINGS.get(name, ()):
                self._pop(tag.start)
        self._push(_Block(name, tag.start))

    def end_tag(self, tag: Tag) -> None:
        name = tag.name
        if name == "br":  # "</br>" is a <br>, as browsers read it
            self.start_tag(Tag("br", tag.start, tag.end, closing=False, self_closing=False))
            return
        self._end_text(tag.start)
        if name in IGNORED:
            self.ignored_depth = max(0, self.ignored_depth - 1)
        elif self.open_count.get(name, 0) > 0:
            while self.stack[-1].tag != name:
                self._pop(tag.start)
            self._pop(tag.end)
        # An end tag with no open element of its kind is ignored, as browsers do.

    def paragraphs(self) -> list[Paragraph]:
        for token in scan(self.source, self.work):
            self.work.steps += 1
            if isinstance(token, Text):
                self.text(token)
            elif token.closing:
                self.end_tag(token)
            else:
                self.start_tag(token)
        self._end_text(len(self.source))
        while self.stack:
            self._pop(len(self.source))
        # Ranks are unique and dense: ordering by them needs no sort.
        by_rank: list[_Found | None] = [None] * self.ranks
        for block in self.done:
            if not block.pieces:
                continue
            for found in _paragraphs_of(self.source, block, self.work):
                by_rank[found.rank] = found
        ordered = [found for found in by_rank if found is not None]
        self.work.steps += len(by_rank)
        return [Paragraph(i, f.start, f.end, f.text, f.offsets) for i, f in enumerate(ordered)]


def split_html_counted(source: str) -> tuple[list[Paragraph], int]:
    """The paragraphs and the work it took to find them (``Work.steps``)."""
    splitter = _Splitter(source)
    paragraphs = splitter.paragraphs()
    return paragraphs, splitter.work.steps


def split_html(source: str) -> list[Paragraph]:
    """Paragraphs of an HTML document or fragment; ``start``/``end`` span the
    block element in ``source`` (the text, for text outside paragraph elements)."""
    return split_html_counted(source)[0]


__all__ = ["BLOCKS", "split_html", "split_html_counted"]
