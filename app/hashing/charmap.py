"""Per-code-point normalisation tables for the compiled kernel.

Generated from Python's Unicode database and the Unicode confusables data
(`python -m app.hashing.charmap` rewrites ``chartables.npz``, and the NFKC
tables of `nfkc` in ``nfkctables.npz``), so the kernel
folds characters with two array look-ups instead of Python string passes.
Shipping the generated file pins the Unicode version: signatures do not
change with the interpreter that computes them. Tables cover the Basic
Multilingual Plane; code points above it are word characters, except the
CJK extensions, which stand alone.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

SEPARATOR = 0  # ends a token
WORD = 1  # part of a token, replaced by mapped[cp]
DELETE = 2  # dropped without ending the token (soft hyphen, zero-width)
ALONE = 3  # a token by itself (scripts written without spaces)
MULTI = 4  # part of a token, replaced by several code points

PLANE = 0x10000
ASTRAL_ALONE = (0x20000, 0x3134F)  # CJK extensions B-G

INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"
# Also deleted: every format character (bidi marks and embeddings, word
# joiners: a disguise tool, and a token split inside a word would change
# its shingles), variation selectors, the combining grapheme joiner, Hangul
# fillers (blank "letters"), the Arabic tatweel (a stretching stroke), and
# the optional vowel and cantillation points of Arabic and Hebrew: the same
# text is published with and without them.
EXTRA_INVISIBLE = "\u034f\u0640\u115f\u1160\u180b\u180c\u180d\u180f\u3164\uffa0"
VARIATION_SELECTORS = (0xFE00, 0xFE0F)
POINTED_SCRIPTS = (
    (0x0591, 0x05C7),  # Hebrew points and accents
    (0x0610, 0x061A),  # Arabic honorific signs
    (0x064B, 0x065F),  # Arabic harakat
    (0x0670, 0x0670),  # Arabic superscript alef
    (0x06D6, 0x06ED),  # Quranic annotation marks
)
# Modifier letters written as apostrophes (Ukrainian, transliterations):
# they are letters to Unicode, so without this "donʼt" would stay one token
# while "don’t" is two.
APOSTROPHES = "\u02b9\u02ba\u02bb\u02bc\u02bd\u02c8\u02ca\u02cb\u02ee\ua78c"

# Only letters of these scripts are folded to the Latin letter they imitate,
# so Arabic or Hebrew letters that merely resemble a Latin shape stay apart.
HOMOGLYPH_SCRIPTS = ("CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "LATIN", "LISU", "COPTIC")

# Arabic letters typed in other forms: Persian-keyboard kaf and yeh, the
# final yeh written dotless (an Egyptian convention), alef with or without
# its hamza or madda (often left off when typing).
ARABIC_VARIANTS = {"ی": "ي", "ى": "ي", "ک": "ك", "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"}

NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
)


class CharTables(NamedTuple):
    kind: npt.NDArray[np.uint8]  # one of the classes above, per BMP code point
    mapped: npt.NDArray[np.int32]  # WORD: replacement; MULTI: offset into extra
    extra: npt.NDArray[np.int32]  # MULTI replacements: length, then code points


@lru_cache(maxsize=1)
def homoglyph_table() -> dict[str, str]:
    """Non-ASCII letters confusable with an ASCII letter or digit -> that one."""
    # Imported here: the library parses its JSON data at import time, which
    # only the table generator needs.
    from confusable_homoglyphs import confusables

    table: dict[str, str] = {}
    for char, entries in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        if not unicodedata.name(char, "").startswith(HOMOGLYPH_SCRIPTS):
            continue
        targets = [e["c"] for e in entries if len(e["c"]) == 1 and e["c"].isascii() and e["c"].isalnum()]
        if targets:
            table[char] = min(targets).lower()
    return table


def is_word_char(char: str) -> bool:
    """Letters, digits and combining marks (which stay on their letter)."""
    return char.isalnum() or unicodedata.category(char) in ("Mn", "Mc")


def fold(char: str) -> str:
    """Case-folded, de-disguised form of one word character."""
    homoglyphs = homoglyph_table()
    char = ARABIC_VARIANTS.get(char, char)
    return "".join(homoglyphs.get(c, c) for c in homoglyphs.get(char, char).casefold())


def is_invisible(char: str) -> bool:
    """Dropped without ending the token."""
    cp = ord(char)
    if char in INVISIBLE or char in EXTRA_INVISIBLE or unicodedata.category(char) == "Cf":
        return True
    if VARIATION_SELECTORS[0] <= cp <= VARIATION_SELECTORS[1]:
        return True
    return unicodedata.category(char) == "Mn" and any(lo <= cp <= hi for lo, hi in POINTED_SCRIPTS)


def is_alone(cp: int) -> bool:
    if cp >= PLANE:
        return ASTRAL_ALONE[0] <= cp <= ASTRAL_ALONE[1]
    return any(lo <= cp <= hi for lo, hi in NO_SPACE_RANGES)


TABLES_FILE = Path(__file__).with_name("chartables.npz")


@lru_cache(maxsize=1)
def char_tables() -> CharTables:
    """The shipped tables (built afresh if the file is missing)."""
    if not TABLES_FILE.exists():
        return build_char_tables()
    with np.load(TABLES_FILE) as saved:
        tables = CharTables(saved["kind"], saved["mapped"], saved["extra"])
    for table in tables:
        table.setflags(write=False)
    return tables


def build_char_tables() -> CharTables:
    kind = np.zeros(PLANE, dtype=np.uint8)
    mapped = np.arange(PLANE, dtype=np.int32)
    extra: list[int] = []
    apostrophes = set(APOSTROPHES)
    for cp in range(PLANE):
        char = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            kind[cp] = SEPARATOR
        elif is_invisible(char):
            kind[cp] = DELETE
        elif is_alone(cp):
            kind[cp] = ALONE
        elif char in apostrophes or not is_word_char(char):
            kind[cp] = SEPARATOR
        else:
            folded = fold(char)
            if len(folded) == 1:
                kind[cp] = WORD
                mapped[cp] = ord(folded)
            else:
                kind[cp] = MULTI
                mapped[cp] = len(extra)
                extra.append(len(folded))
                extra.extend(ord(c) for c in folded)
    return CharTables(kind, mapped, np.array(extra or [0], dtype=np.int32))


def main() -> None:
    from app.hashing.nfkc import TABLES_FILE as NFKC_FILE
    from app.hashing.nfkc import build_nfkc_tables

    tables = build_char_tables()
    np.savez_compressed(TABLES_FILE, **tables._asdict())
    np.savez_compressed(NFKC_FILE, **build_nfkc_tables(tables)._asdict())
    print(f"wrote {TABLES_FILE} and {NFKC_FILE} (Unicode {unicodedata.unidata_version})")


if __name__ == "__main__":
    main()
