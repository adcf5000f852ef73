"""Batch MinHash signatures and exact shingle sets for paragraphs."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from app.hashing import kernel
from app.hashing.charmap import PLANE, char_tables

DEFAULT_NUM_PERM = 128
DEFAULT_SHINGLE_SIZE = 3
DEFAULT_SEED = 1
# Below this many paragraphs, starting threads costs more than it saves.
PARALLEL_MIN_BATCH = 2048

Signatures = npt.NDArray[np.uint32]


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """The (a, b) of datasketch's ``affine32`` scheme for ``MinHash(num_perm, seed)``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


# Full-width comma, ideographic full stop: Chinese or Japanese text.
_CJK_MARKS = re.compile("[\uff0c\u3002]")


@lru_cache(maxsize=1)
def _composing() -> tuple[frozenset[str], frozenset[str]]:
    """Characters that start, and that end, a canonical composition pair."""
    first: set[str] = set()
    second = {chr(cp) for cp in (*range(0x1161, 0x1176), *range(0x11A8, 0x11C3))}  # Hangul V, T
    for cp in range(0x10000):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            first.add(chr(int(parts[0], 16)))
            second.add(chr(int(parts[1], 16)))
    return frozenset(first), frozenset(second)


@lru_cache(maxsize=1)
def _nfkc_stable() -> npt.NDArray[np.uint16]:
    """Per BMP code point, for a compiled check that a text is its own NFKC
    form: UNSTABLE where NFKC changes the character alone or it composes
    with the character before it; else the combining classes of the first
    and (times 256) of the last character of its canonical decomposition.
    Such characters leave a text unchanged unless NFKC has marks to reorder:
    a leading class above zero but below the previous trailing class."""
    second = _composing()[1]
    table = np.full(PLANE, kernel.UNSTABLE, dtype=np.uint16)
    for cp in range(PLANE):
        char = chr(cp)
        if 0xD800 <= cp <= 0xDFFF or char in second or unicodedata.normalize("NFKC", char) != char:
            continue
        nfd = unicodedata.normalize("NFD", char)
        table[cp] = unicodedata.combining(nfd[0]) | unicodedata.combining(nfd[-1]) << 8
    table.setflags(write=False)
    return table


@lru_cache(maxsize=1)
def _wide_forms() -> tuple[tuple[str, str], ...]:
    """Full-width punctuation and letters with their NFKC forms, where
    replacing the character in any context gives the same NFKC result: its
    form has no combining mark and no character that composes with a
    neighbour (so not "e", which composes with a following accent)."""
    first, second = _composing()
    forms = []
    for cp in (0x2026, 0x3000, *range(0xFF01, 0xFF5F)):
        form = unicodedata.normalize("NFKC", chr(cp))
        if all(c not in first and c not in second and not unicodedata.combining(c) for c in form):
            forms.append((chr(cp), form))
    return tuple(forms)


def _nfkc(text: str) -> str:
    # ASCII is its own NFKC form, and isascii() only reads a flag.
    if text.isascii():
        return text
    # CPython's NFKC costs ~200 ns per CJK character once a text needs any
    # change, and Chinese or Japanese text nearly always does, for its
    # full-width punctuation alone: replace that first.
    if _CJK_MARKS.search(text):
        if unicodedata.is_normalized("NFKC", text):
            return text
        for wide, form in _wide_forms():
            if wide in text:
                text = text.replace(wide, form)
        if unicodedata.is_normalized("NFKC", text):
            return text
    return unicodedata.normalize("NFKC", text)


def _end_to_end(encoded: list[bytes]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    data = np.frombuffer(b"\0".join([*encoded, b""]), dtype=np.uint8)
    bounds = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=bounds[1:])
    return data, bounds


def pack(texts: Sequence[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """UTF-8 of the texts' NFKC forms end to end, each followed by a NUL,
    and where each one starts (plus the total length)."""
    # surrogatepass: a lone surrogate is a separator, not an encoding error.
    # A NUL inside a text needs no care: the kernel reads each text's extent
    # from `bounds`, and NUL only separates tokens.
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    data, bounds = _end_to_end(encoded)
    # CPython's NFKC costs up to 200 ns a character (Arabic, CJK) for a text
    # that needs any change, however small: a compiled scan finds the short
    # stretches that NFKC may change, and only those go through unicodedata.
    # Chinese or Japanese text has so many (full-width punctuation) that
    # _nfkc's wholesale replacement is cheaper.
    which = [i for i, t in enumerate(texts) if not t.isascii() and not unicodedata.is_normalized("NFKC", t)]
    if not which:
        return data, bounds
    cjk = [i for i in which if _CJK_MARKS.search(texts[i])]
    for i in cjk:
        encoded[i] = _nfkc(texts[i]).encode("utf-8", "surrogatepass")
    which = sorted(set(which) - set(cjk))
    starts, ends = kernel.nfkc_spans(data, bounds, np.array(which, dtype=np.int64), _nfkc_stable())
    spans = zip(starts.tolist(), ends.tolist(), strict=True)
    lo, hi = next(spans, (-1, -1))
    for p in which:
        first, last = int(bounds[p]), int(bounds[p + 1])
        raw = encoded[p]
        pieces = []
        done = 0
        while first <= lo < last:
            stretch = raw[lo - first : hi - first].decode("utf-8", "surrogatepass")
            pieces += [raw[done : lo - first], _nfkc(stretch).encode("utf-8", "surrogatepass")]
            done = hi - first
            lo, hi = next(spans, (-1, -1))
        pieces.append(raw[done:])
        encoded[p] = b"".join(pieces)
    return _end_to_end(encoded)


class Analysis(NamedTuple):
    """Normalised form and sorted distinct shingle hashes of each text."""

    normalised: list[str]
    shingles: list[npt.NDArray[np.uint32]]


def normalize_many(texts: Sequence[str]) -> list[str]:
    """Normalised form of each text: folded tokens joined by single spaces."""
    return MinHasher(shingle_size=1).analyse(texts).normalised


def normalize(text: str) -> str:
    """Normalised form of one text."""
    return normalize_many([text])[0]


@dataclass(frozen=True)
class MinHasher:
    """Normalisation, shingling and permutations: one fixed scheme.

    Two MinHashers with equal fields produce identical signatures in every
    process and on every machine.
    """

    num_perm: int = DEFAULT_NUM_PERM
    shingle_size: int = DEFAULT_SHINGLE_SIZE
    seed: int = DEFAULT_SEED
    threads: int = field(default_factory=lambda: os.cpu_count() or 1, compare=False)

    def __post_init__(self) -> None:
        if self.num_perm < 1:
            raise ValueError("num_perm must be at least 1")
        if not 1 <= self.shingle_size <= 64:
            raise ValueError("shingle_size must be between 1 and 64")

    def signatures(self, texts: Sequence[str]) -> Signatures:
        """Signatures of raw paragraph texts, one row per text."""
        out = np.empty((len(texts), self.num_perm), dtype=np.uint32)
        if not texts:
            return out
        cps, bounds = pack(texts)
        a, b = permutations(self.num_perm, self.seed)
        args = (cps, bounds, self.shingle_size, a, b, *char_tables(), out)
        if len(texts) >= PARALLEL_MIN_BATCH and self.threads > 1:
            kernel.sign_parallel(*args, self.threads * 8)
        else:
            kernel.sign_serial(*args)
        return out

    def analyse(self, texts: Sequence[str]) -> Analysis:
        """Normalised text and exact shingle set of each raw paragraph."""
        if not texts:
            return Analysis([], [])
        data, bounds = pack(texts)
        text, toff, values, voff = kernel.shingle_hashes(data, bounds, self.shingle_size, *char_tables())
        raw = text.tobytes()
        return Analysis(
            [raw[toff[i] : toff[i + 1]].decode("utf-8", "surrogatepass") for i in range(len(texts))],
            [values[voff[i] : voff[i + 1]] for i in range(len(texts))],
        )

    def signatures_of_sets(self, shingle_sets: Sequence[npt.NDArray[np.uint32]]) -> Signatures:
        """Signatures from exact shingle sets (``analyse(...).shingles``):
        equal to ``signatures`` of the same texts, at a fraction of the cost
        when the sets are at hand already."""
        out = np.empty((len(shingle_sets), self.num_perm), dtype=np.uint32)
        if not shingle_sets:
            return out
        offsets = np.zeros(len(shingle_sets) + 1, dtype=np.int64)
        np.cumsum([s.size for s in shingle_sets], out=offsets[1:])
        values = np.concatenate(shingle_sets) if offsets[-1] else np.empty(0, dtype=np.uint32)
        a, b = permutations(self.num_perm, self.seed)
        kernel.sign_hashes(values, offsets, a, b, out)
        return out

    def warm_up(self) -> None:
        """Load (or compile) every kernel, and build the lazily made tables,
        now rather than on a first request: ASCII, text NFKC must change
        (a ligature, a non-breaking space) and CJK with full-width marks each
        take another path through ``pack``."""
        samples = ["warm up", "ﬁnal cafe\u0301\u00a0déjà vu", "北京，上海。"]
        self.signatures(samples)
        self.signatures_of_sets(self.analyse(samples).shingles)


def signatures(texts: Sequence[str]) -> Signatures:
    """Signatures of raw paragraph texts with the service's default scheme."""
    return MinHasher().signatures(texts)


def estimate_jaccard(sig_a: Signatures, sig_b: Signatures) -> float:
    """Jaccard estimated from two signatures (share of equal positions)."""
    return float(np.count_nonzero(sig_a == sig_b)) / float(sig_a.shape[-1])
