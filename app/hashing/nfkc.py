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

The tables are generated (``python -m app.hashing.charmap`` writes them
beside the character tables) so the Unicode version is pinned with them.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from app.hashing.charmap import ALONE, DELETE, MULTI, PLANE, SEPARATOR, WORD, CharTables

LIMIT = 0x40000
# The kernel sizes its buffers for this many output bytes per code point in:
# a folded character of up to three code points, then a space. A character
# whose NFKC form would write more (U+FDFA writes a whole Arabic phrase) is
# left to unicodedata, which lengthens the text before the kernel sees it.
BYTES_PER_CODE_POINT = 12
UNSTABLE = 0xFFFF
REPLACED = 0xFFFE
TRANSPARENT = 0xFFFD
# Hangul jamo compose algorithmically: unicodedata lists no decomposition
# for the syllables, so the vowels and trailing consonants are added here.
HANGUL_SECOND = (*range(0x1161, 0x1176), *range(0x11A8, 0x11C3))


class NfkcTables(NamedTuple):
    flags: npt.NDArray[np.uint16]
    mapped: npt.NDArray[np.int32]
    extra: npt.NDArray[np.int32]

    def replacement(self, cp: int) -> list[int]:
        """The code points NFKC replaces ``cp`` by (flags REPLACED)."""
        at = int(self.mapped[cp])
        return [int(c) for c in self.extra[at + 2 : at + 2 + int(self.extra[at])]]


def composing_seconds() -> frozenset[str]:
    """Characters that end a canonical composition pair (and so may merge
    with the character before them)."""
    second = {chr(cp) for cp in HANGUL_SECOND}
    for cp in range(LIMIT):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            second.add(chr(int(parts[1], 16)))
    return frozenset(second)


def output_bytes(text: str, chars: CharTables) -> int:
    """Most bytes the kernel writes for ``text``: each kept character's
    folded UTF-8 and a space."""
    total = 0
    for char in text:
        cp = ord(char)
        if cp >= PLANE:
            total += 5
        elif chars.kind[cp] == MULTI:
            at = int(chars.mapped[cp])
            folded = "".join(map(chr, chars.extra[at + 1 : at + 1 + int(chars.extra[at])]))
            total += len(folded.encode("utf-8", "surrogatepass")) + 1
        elif chars.kind[cp] not in (SEPARATOR, DELETE):
            total += len(chr(int(chars.mapped[cp])).encode("utf-8", "surrogatepass")) + 1
    return total


def _replacement(char: str, second: frozenset[str], chars: CharTables) -> str | None:
    """NFKC form of ``char`` where it is the same in every context."""
    form = unicodedata.normalize("NFKC", char)
    if form == char or char in second or output_bytes(form, chars) > BYTES_PER_CODE_POINT:
        return None
    parts = unicodedata.normalize("NFKD", char)
    if parts[0] in second or unicodedata.combining(parts[0]):
        return None
    return form


def build_nfkc_tables(chars: CharTables) -> NfkcTables:
    second = composing_seconds()
    flags = np.zeros(LIMIT, dtype=np.uint16)
    mapped = np.full(LIMIT, -1, dtype=np.int32)
    extra: list[int] = []
    for cp in range(LIMIT):
        char = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue  # a lone surrogate: a separator to the kernel, left alone by NFKC
        form = _replacement(char, second, chars)
        if form is not None:
            flags[cp] = REPLACED
            mapped[cp] = len(extra)
            trailing = unicodedata.combining(unicodedata.normalize("NFD", form)[-1])
            extra += [len(form), trailing, *map(ord, form)]
        elif char in second or unicodedata.normalize("NFKC", char) != char:
            flags[cp] = UNSTABLE
        elif cp < PLANE and chars.kind[cp] == DELETE and unicodedata.combining(char):
            flags[cp] = TRANSPARENT
        else:
            nfd = unicodedata.normalize("NFD", char)
            flags[cp] = unicodedata.combining(nfd[0]) | unicodedata.combining(nfd[-1]) << 8
    return NfkcTables(flags, mapped, np.array(extra or [0], dtype=np.int32))


TABLES_FILE = Path(__file__).with_name("nfkctables.npz")


@lru_cache(maxsize=1)
def nfkc_tables() -> NfkcTables:
    """The shipped tables (built afresh if the file is missing)."""
    if not TABLES_FILE.exists():
        from app.hashing.charmap import char_tables

        return build_nfkc_tables(char_tables())
    with np.load(TABLES_FILE) as saved:
        tables = NfkcTables(saved["flags"], saved["mapped"], saved["extra"])
    for table in tables:
        table.setflags(write=False)
    return tables


# A fast-path action per BMP code point (see ``fast_actions``).
FAST = 1 << 44
FAST_BYTES = (1 << 32) - 1
FAST_LENGTH_SHIFT = 32
FAST_ALONE_SHIFT = 34
FAST_WORD_SHIFT = 35
FAST_TRAILING_SHIFT = 36
SPACE = 0x20


def fast_actions(chars: CharTables, nfkc: NfkcTables) -> npt.NDArray[np.uint64]:
    """What the kernel does with each BMP character that needs no table but
    this one: 0 where it must take the general path; else FAST, plus the
    four bytes it stores (FAST_BYTES) and, for a letter, digit or
    ideograph: 1 from FAST_WORD_SHIFT, the number of bytes it writes from
    FAST_LENGTH_SHIFT, 1 from FAST_ALONE_SHIFT for a character that is a
    token by itself, and the combining class that ends it (for the order
    check of marks after it) from FAST_TRAILING_SHIFT. The bytes stored are
    the character's UTF-8 (up to three bytes, little-endian) and a space
    after it, which the next character keeps if it starts a token; a
    separator stores the space alone. Only characters that start with
    combining class 0 and that NFKC keeps qualify, so no check is needed
    before writing them."""
    flags = nfkc.flags[:PLANE].astype(np.int64)
    plain = (flags < TRANSPARENT) & (flags & 0xFF == 0)
    kind = chars.kind
    code = np.where(kind == WORD, chars.mapped, np.arange(PLANE)).astype(np.int64)
    writes = plain & ((kind == WORD) | (kind == ALONE)) & (code < PLANE) & ((code < 0xD800) | (code > 0xDFFF))
    # UTF-8 of code points below 0x10000, as little-endian integers.
    one, two = code < 0x80, code < 0x800
    utf8 = np.where(
        one,
        code,
        np.where(
            two,
            (0xC0 | code >> 6) | (0x80 | code & 0x3F) << 8,
            (0xE0 | code >> 12) | (0x80 | code >> 6 & 0x3F) << 8 | (0x80 | code & 0x3F) << 16,
        ),
    )
    length = np.where(one, 1, np.where(two, 2, 3))
    packed = (
        FAST
        | utf8
        | SPACE << 8 * length
        | length << FAST_LENGTH_SHIFT
        | (kind == ALONE).astype(np.int64) << FAST_ALONE_SHIFT
        | 1 << FAST_WORD_SHIFT
        | (flags >> 8) << FAST_TRAILING_SHIFT
    )
    actions = np.zeros(PLANE, dtype=np.uint64)
    actions[plain & (kind == SEPARATOR)] = FAST | SPACE
    actions[writes] = packed[writes].astype(np.uint64)
    _add_replaced(actions, chars, nfkc)
    actions.setflags(write=False)
    return actions


def _add_replaced(actions: npt.NDArray[np.uint64], chars: CharTables, nfkc: NfkcTables) -> None:
    """Give characters that NFKC replaces alike in every context the action
    of their replacement where the fast table decides it: one character
    (full-width letters and digits) or separators only (full-width commas
    and brackets, three dots for an ellipsis): a Chinese paragraph has three
    or four such characters, each a detour through the general path."""
    for cp in np.flatnonzero(nfkc.flags[:PLANE] == REPLACED).tolist():
        form = nfkc.replacement(cp)
        if all(c < PLANE and chars.kind[c] == SEPARATOR and actions[c] for c in form):
            actions[cp] = FAST | SPACE
        elif len(form) == 1 and form[0] < PLANE and actions[form[0]]:
            actions[cp] = actions[form[0]]
