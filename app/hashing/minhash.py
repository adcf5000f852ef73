"""Batch MinHash signatures and exact shingle sets for paragraphs."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import get_num_threads

from app.hashing import kernel
from app.hashing.charmap import char_tables
from app.hashing.nfkc import nfkc_tables
from app.hashing.normaliser import fast_actions

DEFAULT_NUM_PERM = 128
DEFAULT_SHINGLE_SIZE = 3
DEFAULT_SEED = 1
# Below this many paragraphs, starting threads costs more than it saves.
PARALLEL_MIN_BATCH = 2048
# Texts go to the kernel in chunks of about this many code points (256 KiB
# of UCS-4), so that the copy of a chunk is still in the core's cache when
# the kernel reads it, and so that the joined text and its copy stay small
# heap blocks: with chunks of 1M code points, glibc gave the heap top back
# to the system after each call in a process that had run other code, and
# the next call faulted its pages in again (800 to 2,000 page faults a call,
# +50% to +120% time for Chinese and French batches on the benchmark VM).
CHUNK_CODE_POINTS = 1 << 16

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


def text_ends(texts: Sequence[str]) -> npt.NDArray[np.int64]:
    """Where each text ends, the texts laid end to end (in code points)."""
    return np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))


def code_points(
    texts: Sequence[str], ends: npt.NDArray[np.int64] | None = None
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """The texts' code points end to end, and where each one starts (plus
    the total length); ``ends`` is ``text_ends(texts)`` if known already.
    numpy widens a str to UCS-4 in one copy, a lone surrogate included,
    where a codec would cost a call per text."""
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    bounds[1:] = text_ends(texts) if ends is None else ends
    if not bounds[-1]:
        return np.zeros(0, dtype=np.uint32), bounds
    return np.array("".join(texts)).reshape(1).view(np.uint32), bounds


def chunk_bounds(ends: npt.NDArray[np.int64], size: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of consecutive chunks of texts of about ``size`` code
    points each (``CHUNK_CODE_POINTS`` by default; a chunk ends with the text
    that reaches the size), given ``text_ends`` of the texts."""
    size = size or CHUNK_CODE_POINTS
    if not ends.size:
        return []
    cuts = np.searchsorted(ends, np.arange(size, int(ends[-1]) + 1, size), side="left") + 1
    bounds = [0, *sorted(set(cuts.tolist()) - {0, ends.size}), ends.size]
    return list(pairwise(bounds))


def _chunks(texts: Sequence[str]) -> Iterator[tuple[int, Sequence[str], npt.NDArray[np.int64]]]:
    """Each chunk of the texts: where it starts, its texts and their ends."""
    ends = text_ends(texts)
    if ends.size and ends[-1] <= CHUNK_CODE_POINTS:  # a check's few paragraphs: one chunk
        yield 0, texts, ends
        return
    for start, end in chunk_bounds(ends):
        yield start, texts[start:end], ends[start:end] - (ends[start - 1] if start else 0)


@lru_cache(maxsize=1)
def _tables() -> tuple[npt.NDArray[np.generic], ...]:
    chars, nfkc = char_tables(), nfkc_tables()
    return (*chars, *nfkc, fast_actions(chars, nfkc))


def tables_digest() -> str:
    """Digest of every table the kernel reads (folding and NFKC): a changed
    table changes signatures, so it belongs to a store's scheme."""
    digest = hashlib.blake2b(digest_size=8)
    for table in (*char_tables(), *nfkc_tables()):
        digest.update(table.tobytes())
    return digest.hexdigest()


def _nfkc_of(texts: Sequence[str], which: npt.NDArray[np.intp]) -> list[str]:
    """NFKC forms of the texts the kernel found it cannot normalise alone."""
    return [unicodedata.normalize("NFKC", texts[i]) for i in which.tolist()]


class Analysis(NamedTuple):
    """Normalised form and sorted distinct shingle hashes of each text."""

    normalised: list[str]
    shingles: list[npt.NDArray[np.uint32]]


def normalise_many(texts: Sequence[str]) -> list[str]:
    """Normalised form of each text: folded tokens joined by single spaces."""
    return MinHasher(shingle_size=1).analyse(texts).normalised


def normalise(text: str) -> str:
    """Normalised form of one text."""
    return normalise_many([text])[0]


@dataclass(frozen=True)
class MinHasher:
    """Normalisation, shingling and permutations: one fixed scheme.

    Two MinHashers with equal fields produce identical signatures in every
    process and on every machine.
    """

    num_perm: int = DEFAULT_NUM_PERM
    shingle_size: int = DEFAULT_SHINGLE_SIZE
    seed: int = DEFAULT_SEED
    # numba's thread pool (one thread per core unless NUMBA_NUM_THREADS says otherwise).
    threads: int = field(default_factory=lambda: int(get_num_threads()), compare=False)

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
        parallel = len(texts) >= PARALLEL_MIN_BATCH and self.threads > 1
        for start, part, ends in _chunks(texts):
            rows = out[start : start + len(part)]
            redo = np.flatnonzero(self._sign(part, rows, True, parallel, ends))
            if redo.size:
                fixed = np.empty((redo.size, self.num_perm), dtype=np.uint32)
                self._sign(_nfkc_of(part, redo), fixed, False, False, None)
                rows[redo] = fixed
        return out

    def _sign(
        self,
        texts: Sequence[str],
        out: Signatures,
        check: bool,
        parallel: bool,
        ends: npt.NDArray[np.int64] | None,
    ) -> npt.NDArray[np.uint8]:
        data, bounds = code_points(texts, ends)
        a, b = permutations(self.num_perm, self.seed)
        suspect = np.zeros(len(texts), dtype=np.uint8)
        args = (data, bounds, self.shingle_size, a, b, _tables(), check, out, suspect)
        if parallel:
            kernel.sign_parallel(*args, max(self.threads, 2) * 4)
        else:
            kernel.sign_serial(*args)
        return suspect

    def analyse(self, texts: Sequence[str]) -> Analysis:
        """Normalised text and exact shingle set of each raw paragraph."""
        whole = Analysis([], [])
        for _, part, ends in _chunks(texts):
            analysis, suspect = self._analyse(part, True, ends)
            redo = np.flatnonzero(suspect)
            if redo.size:
                fixed, _ = self._analyse(_nfkc_of(part, redo), False, None)
                for at, i in enumerate(redo.tolist()):
                    analysis.normalised[i] = fixed.normalised[at]
                    analysis.shingles[i] = fixed.shingles[at]
            whole.normalised.extend(analysis.normalised)
            whole.shingles.extend(analysis.shingles)
        return whole

    def _analyse(
        self, texts: Sequence[str], check: bool, ends: npt.NDArray[np.int64] | None
    ) -> tuple[Analysis, npt.NDArray[np.uint8]]:
        data, bounds = code_points(texts, ends)
        text, toff, values, voff, suspect = kernel.shingle_hashes(
            data, bounds, self.shingle_size, _tables(), check
        )
        raw = text.tobytes()
        # Python ints: slicing with numpy scalars costs several times more.
        tcut, vcut = toff.tolist(), voff.tolist()
        analysis = Analysis(
            [raw[a:b].decode("utf-8", "surrogatepass") for a, b in pairwise(tcut)],
            [values[a:b] for a, b in pairwise(vcut)],
        )
        return analysis, suspect

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
        """Load (or compile) every kernel, and load the tables, now rather
        than on a first request: a decomposed accent sends its text through
        the second, unchecked, pass; the parallel kernel, which only large
        batches take, is run on the samples too."""
        samples = ["warm up", "ﬁnal cafe\u0301\u00a0déjà vu", "北京，上海。"]
        self.signatures(samples)
        self._sign(samples, np.empty((len(samples), self.num_perm), dtype=np.uint32), True, True, None)
        self.signatures_of_sets(self.analyse(samples).shingles)


def signatures(texts: Sequence[str]) -> Signatures:
    """Signatures of raw paragraph texts with the service's default scheme."""
    return MinHasher().signatures(texts)


def estimate_jaccard(sig_a: Signatures, sig_b: Signatures) -> float:
    """Jaccard estimated from two signatures (share of equal positions)."""
    return float(np.count_nonzero(sig_a == sig_b)) / float(sig_a.shape[-1])
