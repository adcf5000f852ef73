"""Exact set similarity between shingle sets (sorted distinct uint32 arrays)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt


class Overlap(NamedTuple):
    similarity: float  # Jaccard of the two sets
    containment: float  # share of the smaller set found in the larger one


def overlap(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> Overlap:
    if a.size == 0 or b.size == 0:
        return Overlap(0.0, 0.0)
    shared = int(np.intersect1d(a, b, assume_unique=True).size)
    union = a.size + b.size - shared
    return Overlap(shared / union, shared / min(a.size, b.size))
