"""Where each character of an HTML paragraph's text comes from in the HTML.

A paragraph's text is its block's text runs, character references decoded,
``<br>``/``<hr>``/``<img>`` read as a space, whitespace runs collapsed to one
space and the ends stripped (app/text/html.py). Passages are reported in the
submitted HTML, so for each text character this gives the ``[start, end)``
it was decoded from: the character itself, a whole ``&eacute;``, or the tag
a space stands for. Built from the same pieces and the same decoding as the
text, in one pass over them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from app.text.html_scan import charrefs
from app.text.paragraphs import BodyOffsets, Offsets

# A whitespace character right after another: collapsed into the first.
_REPEATED_SPACE = re.compile(r"(?<=\s)\s")


class Run(NamedTuple):
    """One piece of a paragraph: decoded ``text`` from ``source[start:end]``;
    ``literal`` when it is not decoded text (a tag read as a space)."""

    text: str
    start: int
    end: int
    literal: bool = False


def _run_offsets(source: str, run: Run) -> tuple[Offsets, Offsets]:
    if run.literal:
        return np.full(len(run.text), run.start), np.full(len(run.text), run.end)
    raw = source[run.start : run.end]
    if "&" not in raw:
        starts = np.arange(run.start, run.end, dtype=np.int64)
        return starts, starts + 1
    parts_s: list[Offsets] = []
    parts_e: list[Offsets] = []
    at = 0
    for ref_start, ref_end, replacement in charrefs(raw):
        literal = np.arange(run.start + at, run.start + ref_start, dtype=np.int64)
        width = len(replacement)
        parts_s += [literal, np.full(width, run.start + ref_start, dtype=np.int64)]
        parts_e += [literal + 1, np.full(width, run.start + ref_end, dtype=np.int64)]
        at = ref_end
    tail = np.arange(run.start + at, run.end, dtype=np.int64)
    return np.concatenate([*parts_s, tail]), np.concatenate([*parts_e, tail + 1])


def paragraph_offsets(source: str, runs: Sequence[Run]) -> BodyOffsets:
    """The body offsets of the text ``" ".join``-collapsed from ``runs``,
    character for character."""
    joined = "".join(r.text for r in runs)
    pairs = [_run_offsets(source, r) for r in runs]
    starts = np.concatenate([s for s, _ in pairs]) if pairs else np.empty(0, dtype=np.int64)
    ends = np.concatenate([e for _, e in pairs]) if pairs else np.empty(0, dtype=np.int64)
    keep = np.ones(len(joined), dtype=bool)
    keep[[m.start() for m in _REPEATED_SPACE.finditer(joined)]] = False
    kept = np.flatnonzero(keep)
    if kept.size and joined[kept[0]].isspace():
        kept = kept[1:]
    if kept.size and joined[kept[-1]].isspace():
        kept = kept[:-1]
    return BodyOffsets(starts[kept], ends[kept])


class LazyOffsets:
    """``paragraph_offsets(source, runs)``, computed on the first call and
    kept (a paragraph's ``located``)."""

    __slots__ = ("_offsets", "_runs", "_source")

    def __init__(self, source: str, runs: Sequence[Run]) -> None:
        self._source, self._runs = source, runs
        self._offsets: BodyOffsets | None = None

    def __call__(self) -> BodyOffsets:
        if self._offsets is None:
            self._offsets = paragraph_offsets(self._source, self._runs)
        return self._offsets
