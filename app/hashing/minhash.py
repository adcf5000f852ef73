"""Batch MinHash signatures and exact shingle sets for paragraphs."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from app.hashing import kernel
from app.hashing.charmap import char_tables

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


@lru_cache(maxsize=1)
def _wide_forms() -> tuple[tuple[str, str], ...]:
    """Full-width punctuation and letters with their NFKC forms, where
    replacing the character in any context gives the same NFKC result: its
    form has no combining mark and no character that composes with a
    neighbour (so not "e", which composes with a following accent)."""
    composing: set[str] = set()
    for cp in range(0x10000):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            composing.update(chr(int(x, 16)) for x in parts)
    forms = []
    for cp in (0x2026, 0x3000, *range(0xFF01, 0xFF5F)):
        form = unicodedata.normalize("NFKC", chr(cp))
        if all(c not in composing and not unicodedata.combining(c) for c in form):
            forms.append((chr(cp), form))
    return tuple(forms)


def _nfkc(text: str) -> str:
    # ASCII is its own NFKC form, and isascii() only reads a flag.
    if text.isascii():
        return text
    # CPython's NFKC costs ~200 ns per CJK character once a text needs any
    # change, and Chinese or Japanese text nearly always does, for its
    # full-width punctuation alone: replace that first.
    if "\uff0c" in text or "\u3002" in text:
        if unicodedata.is_normalized("NFKC", text):
            return text
        for wide, form in _wide_forms():
            if wide in text:
                text = text.replace(wide, form)
        if unicodedata.is_normalized("NFKC", text):
            return text
    return unicodedata.normalize("NFKC", text)


def pack(texts: Sequence[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """UTF-8 of the texts' NFKC forms end to end, each followed by a NUL,
    and where each one starts (plus the total length)."""
    # Encoding paragraph by paragraph keeps ASCII ones on CPython's
    # copy-only path. surrogatepass: a lone surrogate is a separator, not an
    # encoding error. A NUL inside a text needs no care: the kernel reads
    # each text's extent from `bounds`, and NUL only separates tokens, like
    # the space it used to be replaced with.
    encoded = [_nfkc(t).encode("utf-8", "surrogatepass") for t in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    encoded.append(b"")
    data = np.frombuffer(b"\0".join(encoded), dtype=np.uint8)
    bounds = np.zeros(len(encoded), dtype=np.int64)
    np.cumsum(lengths + 1, out=bounds[1:])
    return data, bounds


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

    def warm_up(self) -> None:
        """Load (or compile) every kernel now rather than on a first request."""
        self.signatures(["warm up"])
        self.analyse(["warm up"])


def signatures(texts: Sequence[str]) -> Signatures:
    """Signatures of raw paragraph texts with the service's default scheme."""
    return MinHasher().signatures(texts)


def estimate_jaccard(sig_a: Signatures, sig_b: Signatures) -> float:
    """Jaccard estimated from two signatures (share of equal positions)."""
    return float(np.count_nonzero(sig_a == sig_b)) / float(sig_a.shape[-1])
