"""Winnowed fingerprints of token k-grams (Schleimer, Wilkerson & Aiken 2003).

Every run of ``k`` consecutive tokens is hashed; in every window of ``w``
consecutive k-gram hashes the smallest is selected. Two texts sharing a run
of ``w + k - 1`` tokens share a whole window, hence its minimum: they share
a fingerprint, whatever surrounds the run. A text keeps about
``2 / (w + 1)`` fingerprints per token.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

U64 = npt.NDArray[np.uint64]
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


class Winnowing(NamedTuple):
    kgram: int  # tokens per k-gram
    window: int  # k-grams per window

    @property
    def guarantee(self) -> int:
        """Length of the shortest shared run of tokens always found."""
        return self.window + self.kgram - 1


def _mix(h: U64) -> U64:
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def kgram_hashes(token_ids: U64, k: int) -> U64:
    """Hash of every run of ``k`` tokens, by the position of its first token
    (empty when there are fewer than ``k`` tokens)."""
    count = token_ids.size - k + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = token_ids[:count].copy()
        for j in range(1, k):
            h = _mix(h * _MULTIPLIER + token_ids[j : j + count])
    return h


def winnow(hashes: U64, window: int) -> npt.NDArray[np.intp]:
    """Positions of the selected k-grams (sorted, distinct): the rightmost
    minimum of every window of ``window`` hashes; a text shorter than one
    window keeps its minimum."""
    if hashes.size == 0:
        return np.empty(0, dtype=np.intp)
    if hashes.size <= window:
        reverse = int(np.argmin(hashes[::-1]))
        return np.array([hashes.size - 1 - reverse], dtype=np.intp)
    windows = sliding_window_view(hashes, window)
    rightmost = window - 1 - np.argmin(windows[:, ::-1], axis=1)
    return np.unique(rightmost + np.arange(windows.shape[0]))


def fingerprints(token_ids: U64, scheme: Winnowing) -> tuple[U64, npt.NDArray[np.intp]]:
    """The selected k-gram hashes of a token sequence and their positions."""
    hashes = kgram_hashes(token_ids, scheme.kgram)
    at = winnow(hashes, scheme.window)
    return hashes[at], at
