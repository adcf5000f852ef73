"""Tokens with their character offsets, for passage alignment.

The MinHash kernel writes a paragraph's normalised tokens but forgets where
each came from; a passage must be mapped back onto the words a reader sees.
This kernel walks the same code points with tables derived from the same
sources (``charmap`` for classes and folding, ``nfkc`` for the characters
NFKC replaces alike in every context) and records, per token, its
``[start, end)`` in the paragraph text (Python string indices) and a 64-bit
hash of its folded form. Tokens are those of the normaliser: word
characters form a token, Han/kana/Thai characters are one token each,
punctuation separates, invisible characters vanish without ending a token.

It is not bit-identical to the shingles: characters whose NFKC form depends
on their neighbours (a decomposed accent) are folded one by one instead of
being composed first. Light edits (case, full-width or typographic forms,
spacing, homoglyphs, invisible characters) give equal token hashes, which is
what alignment needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

from app.hashing.charmap import ALONE, ASTRAL_ALONE, DELETE, MULTI, PLANE, SEPARATOR, WORD, char_tables
from app.hashing.minhash import code_points
from app.hashing.nfkc import REPLACED, nfkc_tables
from app.hashing.winnow import mix64

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_ASTRAL_LO = ASTRAL_ALONE[0]
_ASTRAL_HI = ASTRAL_ALONE[1]


class Tokens(NamedTuple):
    """One text's tokens: offsets into the text and folded-form hashes."""

    starts: npt.NDArray[np.int32]
    ends: npt.NDArray[np.int32]
    ids: npt.NDArray[np.uint64]


class TokenTables(NamedTuple):
    kind: npt.NDArray[np.uint8]  # SEPARATOR, WORD, DELETE or ALONE per BMP code point
    fold_at: npt.NDArray[np.int32]  # folded code points of cp: fold[fold_at[cp]:fold_at[cp + 1]]
    fold: npt.NDArray[np.int32]


def _folded(
    cp: int, kind: npt.NDArray[np.uint8], mapped: npt.NDArray[np.int32], extra: npt.NDArray[np.int32]
) -> tuple[int, list[int]]:
    """Class and folded code points of one code point, before NFKC."""
    if cp >= PLANE:
        return (ALONE if _ASTRAL_LO <= cp <= _ASTRAL_HI else WORD), [cp]
    k = int(kind[cp])
    if k == MULTI:
        at = int(mapped[cp])
        return WORD, [int(c) for c in extra[at + 1 : at + 1 + int(extra[at])]]
    if k == WORD:
        return WORD, [int(mapped[cp])]
    return k, [cp]


@lru_cache(maxsize=1)
def token_tables() -> TokenTables:
    """Per BMP code point: its token class and folded form, NFKC applied
    where NFKC acts alike in every context (full-width letters, ligatures,
    compatibility ideographs).

    Built with array operations for the code points that fold to one code
    point or stand for themselves, and in Python only for the ~5,000 that
    fold to several or that NFKC replaces: built per code point in Python,
    the tables took ~0.15 s of every server worker's start-up."""
    chars, nfkc = char_tables(), nfkc_tables()
    kind = chars.kind.copy()
    kind[kind == MULTI] = WORD
    lengths = np.zeros(PLANE, dtype=np.int32)
    single = np.zeros(PLANE, dtype=np.int32)  # the folded code point of a one-piece fold
    word, alone = chars.kind == WORD, chars.kind == ALONE
    lengths[word | alone] = 1
    single[word] = chars.mapped[word]
    single[alone] = np.flatnonzero(alone)
    several: dict[int, list[int]] = {}
    for cp in np.flatnonzero(chars.kind == MULTI).tolist():
        several[cp] = _folded(cp, *chars)[1]
    limit = min(PLANE, nfkc.flags.size)
    for cp in np.flatnonzero(nfkc.flags[:limit] == REPLACED).tolist():
        parts = [_folded(r, *chars) for r in nfkc.replacement(cp)]
        words = [c for k, folded in parts if k in (WORD, ALONE) for c in folded]
        if any(k == ALONE for k, _ in parts) and len(parts) == 1:
            kind[cp], several[cp] = ALONE, words
        elif words:
            # A compatibility form holding punctuation (a parenthesised
            # number) keeps only its word characters: one token.
            kind[cp], several[cp] = WORD, words
        else:
            kind[cp] = DELETE if all(k == DELETE for k, _ in parts) else SEPARATOR
            several[cp] = []
    for cp, folded in several.items():
        lengths[cp] = len(folded)
    fold_at = np.zeros(PLANE + 1, dtype=np.int32)
    np.cumsum(lengths, out=fold_at[1:])
    fold = np.empty(int(fold_at[-1]), dtype=np.int32)
    ones = lengths == 1
    ones[list(several)] = False
    fold[fold_at[:-1][ones]] = single[ones]
    for cp, folded in several.items():
        fold[fold_at[cp] : fold_at[cp] + len(folded)] = folded
    for table in (kind, fold_at, fold):
        table.setflags(write=False)
    return TokenTables(kind, fold_at, fold)


@njit(cache=True, inline="always")
def _class_of(kind: np.ndarray, cp: int) -> int:
    """Token class of a code point; above the tables' plane, the CJK
    extensions stand alone and everything else is a word character."""
    if cp < PLANE:
        return int(kind[cp])
    return ALONE if _ASTRAL_LO <= cp <= _ASTRAL_HI else WORD


@njit(cache=True)
def _tokenise(data, bounds, kind, fold_at, fold, starts, ends, ids, token_bounds):  # type: ignore[no-untyped-def]
    n = 0
    for t in range(bounds.size - 1):
        base = bounds[t]
        in_word = False
        h = _FNV_OFFSET
        first = 0
        last = 0
        for i in range(bounds[t], bounds[t + 1]):
            cp = int(data[i])
            k = _class_of(kind, cp)
            if k == DELETE:
                continue
            if in_word and k != WORD:
                starts[n], ends[n], ids[n] = first - base, last - base, mix64(h)
                n += 1
                in_word = False
            if k == SEPARATOR:
                continue
            if not in_word:
                h = _FNV_OFFSET
                first = i
            if cp < PLANE:
                for j in range(fold_at[cp], fold_at[cp + 1]):
                    h = (h ^ np.uint64(fold[j])) * _FNV_PRIME
            else:
                h = (h ^ np.uint64(cp)) * _FNV_PRIME
            last = i + 1
            if k == ALONE:
                starts[n], ends[n], ids[n] = first - base, last - base, mix64(h)
                n += 1
            else:
                in_word = True
        if in_word:
            starts[n], ends[n], ids[n] = first - base, last - base, mix64(h)
            n += 1
        token_bounds[t + 1] = n


def tokenise(texts: Sequence[str]) -> list[Tokens]:
    """The tokens of each text, all texts in one compiled call."""
    if not texts:
        return []
    starts, ends, ids, token_bounds = _token_arrays(texts)
    cuts = token_bounds.tolist()
    return [Tokens(starts[a:b], ends[a:b], ids[a:b]) for a, b in pairwise(cuts)]


def token_ids(texts: Sequence[str]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """The token hashes of every text end to end, and where each text's
    start (plus the total): ``tokenise`` without a small array per text."""
    _, _, ids, token_bounds = _token_arrays(texts)
    return ids, token_bounds


def _token_arrays(
    texts: Sequence[str],
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    token_bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    if not texts:
        return np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.uint64), token_bounds
    data, bounds = code_points(texts)
    tables = token_tables()
    size = int(bounds[-1])
    starts = np.empty(size, dtype=np.int32)
    ends = np.empty(size, dtype=np.int32)
    ids = np.empty(size, dtype=np.uint64)
    if size:
        _tokenise(data, bounds, *tables, starts, ends, ids, token_bounds)
    return starts, ends, ids, token_bounds
