"""Exact set similarity between shingle sets (sorted distinct uint32 arrays)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit


class Overlap(NamedTuple):
    similarity: float  # Jaccard of the two sets
    containment: float  # share of the smaller set found in the larger one


@njit(cache=True, nogil=True)
def intersection_size(a: np.ndarray, b: np.ndarray) -> int:
    """Shared elements of two sorted arrays of distinct values (one merge
    pass: for paragraph-sized sets far cheaper than np.intersect1d, which
    concatenates and sorts)."""
    i = j = shared = 0
    while i < a.shape[0] and j < b.shape[0]:
        if a[i] == b[j]:
            shared += 1
            i += 1
            j += 1
        elif a[i] < b[j]:
            i += 1
        else:
            j += 1
    return shared


def overlap(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> Overlap:
    if a.size == 0 or b.size == 0:
        return Overlap(0.0, 0.0)
    shared = int(intersection_size(a, b))
    union = a.size + b.size - shared
    return Overlap(shared / union, shared / min(a.size, b.size))
