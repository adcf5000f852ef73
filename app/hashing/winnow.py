"""Winnowed fingerprints of token k-grams (Schleimer, Wilkerson & Aiken 2003).

Every run of ``k`` consecutive tokens is hashed; in every window of ``w``
consecutive k-gram hashes the smallest is selected. Two texts sharing a run
of ``w + k - 1`` tokens share a whole window, hence its minimum: they share
a fingerprint, whatever surrounds the run. A text keeps about
``2 / (w + 1)`` fingerprints per token.
"""

from __future__ import annotations

from itertools import pairwise
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

U64 = npt.NDArray[np.uint64]
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


class Winnowing(NamedTuple):
    kgram: int  # tokens per k-gram
    window: int  # k-grams per window

    @property
    def guarantee(self) -> int:
        """Length of the shortest shared run of tokens always found."""
        return self.window + self.kgram - 1


@njit(cache=True, inline="always")
def mix64(h: np.uint64) -> np.uint64:
    """splitmix64's finaliser: FNV alone leaves the high bits weak."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@njit(cache=True)
def kgram_hashes(token_ids: np.ndarray, k: int) -> np.ndarray:
    """Hash of every run of ``k`` tokens, by the position of its first token
    (empty when there are fewer than ``k`` tokens)."""
    count = max(token_ids.size - k + 1, 0)
    out = np.empty(count, dtype=np.uint64)
    for i in range(count):
        h = token_ids[i]
        for j in range(1, k):
            h = mix64(h * _MULTIPLIER + token_ids[i + j])
        out[i] = h
    return out


@njit(cache=True)
def winnow(hashes: np.ndarray, window: int) -> np.ndarray:
    """Positions of the selected k-grams (sorted, distinct): the rightmost
    minimum of every window of ``window`` hashes; a text shorter than one
    window keeps its minimum."""
    n = hashes.size
    out = np.empty(max(n, 1), dtype=np.intp)
    count = 0
    if n == 0:
        return out[:0]
    for start in range(max(n - window + 1, 1)):
        at = start
        for j in range(start + 1, min(start + window, n)):
            if hashes[j] <= hashes[at]:
                at = j
        # Windows move right and so do their minima: a repeat is the last one.
        if count == 0 or out[count - 1] != at:
            out[count] = at
            count += 1
    return out[:count]


@njit(cache=True, nogil=True)
def index_rows(bands: np.ndarray, token_ids: np.ndarray, token_bounds: np.ndarray, k: int, window: int):  # type: ignore[no-untyped-def]
    """Every text's index keys laid end to end: its row of ``bands``, then
    the distinct winnowed fingerprints of its tokens (``token_ids[token_bounds[t]:
    token_bounds[t + 1]]``) in ascending unsigned order, as signed 64-bit
    values; with where each text's keys start (plus the total). The same
    keys as ``fingerprints`` and ``np.unique`` per text, in one call."""
    texts, width = bands.shape
    out = np.empty(texts * width + token_ids.size, dtype=np.int64)
    starts = np.zeros(texts + 1, dtype=np.int64)
    n = 0
    for t in range(texts):
        for j in range(width):
            out[n] = bands[t, j]
            n += 1
        hashes = kgram_hashes(token_ids[token_bounds[t] : token_bounds[t + 1]], k)
        chosen = np.sort(hashes[winnow(hashes, window)])
        for i in range(chosen.size):
            if i == 0 or chosen[i] != chosen[i - 1]:
                out[n] = np.int64(chosen[i])
                n += 1
        starts[t + 1] = n
    return out[:n], starts


def fingerprints(token_ids: U64, scheme: Winnowing) -> tuple[U64, npt.NDArray[np.intp]]:
    """The selected k-gram hashes of a token sequence and their positions."""
    hashes = kgram_hashes(token_ids, scheme.kgram)
    at = winnow(hashes, scheme.window)
    return hashes[at], at


@njit(cache=True)
def _fingerprints_each(ids: np.ndarray, bounds: np.ndarray, k: int, window: int):  # type: ignore[no-untyped-def]
    n = bounds.size - 1
    values = np.empty(max(ids.size, 1), dtype=np.uint64)
    positions = np.empty(max(ids.size, 1), dtype=np.intp)
    cuts = np.zeros(n + 1, dtype=np.int64)
    count = 0
    for t in range(n):
        hashes = kgram_hashes(ids[bounds[t] : bounds[t + 1]], k)
        at = winnow(hashes, window)
        for j in range(at.size):
            values[count] = hashes[at[j]]
            positions[count] = at[j]
            count += 1
        cuts[t + 1] = count
    return values[:count], positions[:count], cuts


def fingerprints_each(token_ids: list[U64], scheme: Winnowing) -> list[tuple[U64, npt.NDArray[np.intp]]]:
    """``fingerprints`` of each token sequence, in one compiled call."""
    if not token_ids:
        return []
    bounds = np.zeros(len(token_ids) + 1, dtype=np.int64)
    np.cumsum([t.size for t in token_ids], out=bounds[1:])
    ids = np.concatenate(token_ids) if bounds[-1] else np.empty(0, dtype=np.uint64)
    values, positions, cuts = _fingerprints_each(ids, bounds, scheme.kgram, scheme.window)
    at = cuts.tolist()
    return [(values[a:b], positions[a:b]) for a, b in pairwise(at)]
