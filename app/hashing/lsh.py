"""LSH banding: parameters derived from a Jaccard threshold, and band keys.

A pair with Jaccard ``s`` shares at least one of ``b`` bands of ``r`` rows
with probability ``1 - (1 - s**r)**b`` (the S-curve). We take the largest
``r`` (fewest false candidates) for which some ``b`` that fits in the
signature reaches the target recall at the threshold, and the smallest such
``b`` (fewest index entries).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

from app.hashing.winnow import mix64

DEFAULT_RECALL = 0.99


class Bands(NamedTuple):
    bands: int
    rows: int

    def recall(self, similarity: float) -> float:
        return 1.0 - (1.0 - similarity**self.rows) ** self.bands


def band_params(threshold: float, num_perm: int, recall: float = DEFAULT_RECALL) -> Bands:
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be strictly between 0 and 1")
    if not 0.0 < recall < 1.0:
        raise ValueError("recall must be strictly between 0 and 1")
    for rows in range(num_perm, 0, -1):
        miss = 1.0 - threshold**rows
        if miss >= 1.0:  # threshold**rows underflowed: far too many rows
            continue
        needed = math.ceil(math.log(1.0 - recall) / math.log(miss))
        if needed * rows <= num_perm:
            return Bands(max(1, needed), rows)
    raise ValueError(f"{num_perm} permutations cannot reach recall {recall} at {threshold}")


_MULT = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True)
def _band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    n = signatures.shape[0]
    out = np.empty((n, bands), dtype=np.uint64)
    for p in range(n):
        for band in range(bands):
            key = np.uint64(band + 1)
            for r in range(rows):
                # splitmix64 finaliser: spreads the combined rows over all 64 bits.
                key = mix64((key * _MULT) ^ np.uint64(signatures[p, band * rows + r]))
            out[p, band] = key
    return out


def band_keys(signatures: npt.NDArray[np.uint32], params: Bands) -> npt.NDArray[np.int64]:
    """One signed 64-bit key per (paragraph, band), shape ``(n, bands)``.

    The band number is mixed in, so equal rows in different bands never
    collide, and each index needs a single key column. Compiled: in numpy
    the few rows of a check's paragraphs cost dozens of array operations.
    """
    return _band_keys(signatures, params.bands, params.rows).view(np.int64)
