"""Per-code-point NFKC facts, so the compiled kernel applies NFKC itself.

Paragraph text must be in NFKC form before it is folded, but CPython's
``unicodedata`` costs a Python call per text and up to 200 ns a character
once a text needs any change (French non-breaking spaces, Chinese
full-width punctuation). Nearly every character NFKC changes in real text is
replaced the same way in every context, so the kernel replaces those from a
table and only flags the texts where the result depends on neighbouring
characters (marks to reorder or compose); those go through ``unicodedata``.

Per code point below ``LIMIT`` (every one above is unassigned, private or a
tag, all left alone by NFKC), ``flags`` holds one of:

- ``REPLACED``: NFKC replaces the character by the same code points
  whatever comes before it: its decomposition starts with a character that
  neither composes with nor reorders past the one before. At ``mapped[cp]``,
  ``extra`` holds their number, the combining class that ends them (marks
  after them are checked against it, like after any character) and the
  code points;
- ``UNSTABLE``: NFKC may change the character or merge it with a neighbour;
- ``TRANSPARENT``: a combining mark the kernel deletes (Arabic harakat,
  Hebrew points) and that takes no part in composition, so reordering it
  cannot change the kernel's output: it is left out of the order check;
- otherwise the canonical combining classes of the first and (times 256) of
  the last character of its canonical decomposition: NFKC leaves such
  characters alone unless marks are out of canonical order, that is a mark
  whose leading class is above zero but below the trailing class before it.

The tables are generated (``python -m app.hashing.tablegen`` writes them
beside the character tables) so the Unicode version is pinned with them.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from app.hashing.charmap import load_tables

LIMIT = 0x40000
# The kernel sizes its buffers for this many output bytes per code point in:
# a folded character of up to three code points, then a space. A character
# whose NFKC form would write more (U+FDFA writes a whole Arabic phrase) is
# left to unicodedata, which lengthens the text before the kernel sees it.
BYTES_PER_CODE_POINT = 12
UNSTABLE = 0xFFFF
REPLACED = 0xFFFE
TRANSPARENT = 0xFFFD

TABLES_FILE = files("app.hashing").joinpath("nfkctables.npz")


class NfkcTables(NamedTuple):
    flags: npt.NDArray[np.uint16]
    mapped: npt.NDArray[np.int32]
    extra: npt.NDArray[np.int32]

    def replacement(self, cp: int) -> list[int]:
        """The code points NFKC replaces ``cp`` by (flags REPLACED)."""
        at = int(self.mapped[cp])
        return [int(c) for c in self.extra[at + 2 : at + 2 + int(self.extra[at])]]


@lru_cache(maxsize=1)
def nfkc_tables() -> NfkcTables:
    """The shipped NFKC tables."""
    return NfkcTables(*load_tables(TABLES_FILE, NfkcTables._fields))
