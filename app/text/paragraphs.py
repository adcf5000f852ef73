"""Plain-text paragraphs with their character offsets in the submitted text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

Format = Literal["text", "html"]
Offsets = npt.NDArray[np.int64]


class BodyOffsets(NamedTuple):
    """Per character of a paragraph's text, the ``[start, end)`` it stands
    for in the submitted body (HTML: the character, its whole character
    reference, or the tag a space stands for)."""

    starts: Offsets
    ends: Offsets


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r|$)")


@dataclass(frozen=True, slots=True)
class Paragraph:
    index: int  # position among the non-empty paragraphs, from 0
    start: int  # offsets into the submitted text: text == source[start:end]
    end: int
    text: str
    # Where the text's characters come from when it is not source[start:end]
    # (HTML), worked out when first asked for: only passages need it, to be
    # reported in the body, so an ingest never pays for it. None for plain text.
    located: Callable[[], BodyOffsets] | None = field(default=None, compare=False, repr=False)

    @property
    def offsets(self) -> BodyOffsets | None:
        return None if self.located is None else self.located()


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line's content, line breaks excluded."""
    spans = []
    for match in _LINE.finditer(text):
        if match.start() == len(text) and match.start() > 0:
            break
        content = match.group().rstrip("\r\n")
        spans.append((match.start(), match.start() + len(content)))
    return spans


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# A line break, then one or more lines holding only whitespace, each ended
# by a line break: what separates two blocks (texts without a carriage return).
_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*\n)+")


def split_text(text: str) -> list[Paragraph]:
    """Blocks between blank lines when the text has any (a single line break
    inside a block is soft), otherwise every non-empty line."""
    if "\r" in text:
        return _split_lines(text)
    return _split_fast(text)


def _split_fast(text: str) -> list[Paragraph]:
    """``_split_lines`` for a text without carriage returns, by regular
    expression and string methods instead of line by line in Python (bulk
    ingest spent ~6 us a paragraph here). Blank lines before the first and
    after the last non-blank line do not count, so the search runs between
    the text's first and last non-whitespace characters."""
    first = len(text) - len(text.lstrip())
    last = len(text.rstrip())
    if first >= last:
        return []
    cuts = [first]
    for match in _BLANK_LINES.finditer(text, first, last):
        cuts += match.span()
    cuts.append(last)
    if len(cuts) > 2:
        spans = list(zip(cuts[::2], cuts[1::2], strict=True))
    else:
        spans = []
        start = first
        for line in text[first:last].split("\n"):
            spans.append((start, start + len(line)))
            start += len(line) + 1
    paragraphs: list[Paragraph] = []
    for start, end in spans:
        piece = text[start:end]
        kept = piece.strip()
        at = start + len(piece) - len(piece.lstrip())
        paragraphs.append(Paragraph(len(paragraphs), at, at + len(kept), kept))
    return paragraphs


def _split_lines(text: str) -> list[Paragraph]:
    """``split_text`` line by line: any line breaks (CR, LF, CRLF)."""
    lines = [(s, e, not text[s:e].strip()) for s, e in _lines(text)]
    first = next((i for i, line in enumerate(lines) if not line[2]), len(lines))
    last = max((i for i, line in enumerate(lines) if not line[2]), default=-1)
    has_blank_line = any(blank for _, _, blank in lines[first : last + 1])
    spans: list[tuple[int, int]] = []
    if has_blank_line:
        block_start: int | None = None
        block_end = 0
        for start, end, blank in lines:
            if blank:
                if block_start is not None:
                    spans.append((block_start, block_end))
                block_start = None
            else:
                block_start = start if block_start is None else block_start
                block_end = end
        if block_start is not None:
            spans.append((block_start, block_end))
    else:
        spans = [(s, e) for s, e, blank in lines if not blank]
    paragraphs: list[Paragraph] = []
    for start, end in spans:
        start, end = _strip(text, start, end)
        paragraphs.append(Paragraph(len(paragraphs), start, end, text[start:end]))
    return paragraphs
