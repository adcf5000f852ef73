"""Builds the kernel's tables from the Unicode data: run by hand, never at run time.

``python -m app.hashing.tablegen`` (with the ``tables`` extra installed)
rewrites ``chartables.npz`` (folding: `charmap`) and ``nfkctables.npz``
(NFKC facts: `nfkc`) from Python's Unicode database and the Unicode
confusables data. It refuses to run on an interpreter whose Unicode version
is not ``charmap.UNICODE_VERSION``: the tables record the version they were
built from, the loaders refuse any other, so signatures do not change with
the interpreter that computes them. Re-pinning is a change of that constant,
then of every store's scheme (the fingerprint covers both tables).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
from confusable_homoglyphs import confusables

from app.hashing import charmap, nfkc
from app.hashing.charmap import (
    ALONE,
    ASTRAL_ALONE,
    DELETE,
    MULTI,
    PLANE,
    SEPARATOR,
    UNICODE_VERSION,
    WORD,
    CharTables,
)
from app.hashing.nfkc import BYTES_PER_CODE_POINT, LIMIT, REPLACED, TRANSPARENT, UNSTABLE, NfkcTables

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
# Hangul jamo compose algorithmically: unicodedata lists no decomposition
# for the syllables, so the vowels and trailing consonants are added here.
HANGUL_SECOND = (*range(0x1161, 0x1176), *range(0x11A8, 0x11C3))


class WrongUnicode(Exception):
    """The interpreter's Unicode data is not the version the tables are pinned to."""


def require_pinned_unicode() -> None:
    if unicodedata.unidata_version != UNICODE_VERSION:
        raise WrongUnicode(
            f"this interpreter has Unicode {unicodedata.unidata_version}; the tables are pinned to "
            f"Unicode {UNICODE_VERSION} (charmap.UNICODE_VERSION): run the generator with a Python "
            "of that Unicode version, or re-pin the constant (which changes every store's scheme)"
        )


@lru_cache(maxsize=1)
def homoglyph_table() -> dict[str, str]:
    """Non-ASCII letters confusable with an ASCII letter or digit -> that one."""
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


def main() -> None:
    require_pinned_unicode()
    chars = build_char_tables()
    version = np.array(unicodedata.unidata_version)
    for target, tables in ((charmap.TABLES_FILE, chars), (nfkc.TABLES_FILE, build_nfkc_tables(chars))):
        np.savez_compressed(Path(str(target)), unicode=version, **tables._asdict())
    print(f"wrote {charmap.TABLES_FILE} and {nfkc.TABLES_FILE} (Unicode {unicodedata.unidata_version})")


if __name__ == "__main__":
    main()
