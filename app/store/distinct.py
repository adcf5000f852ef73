"""Distinct keys, sorted, for the lookups a check makes.

``np.unique`` in numpy 2.x answers small integer arrays through a hash
table and then sorts what it kept: 70-80 us for the ~1,000 keys of a
10-paragraph check on this machine, where one sort and a comparison of
neighbours take 23 us, and a check asks for them three times. Keys that
arrive already distinct and sorted (the store's own callers) cost only the
comparison.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TypeVar

import numpy as np
import numpy.typing as npt

Int = TypeVar("Int", np.int64, np.uint64)


def distinct(keys: npt.NDArray[Int]) -> npt.NDArray[Int]:
    """The distinct values of ``keys`` in ascending order, as ``np.unique``
    gives them; ``keys`` itself when it is already so (not a copy)."""
    if keys.size < 2 or bool((keys[1:] > keys[:-1]).all()):
        return keys
    ordered = np.sort(keys)
    return ordered[run_starts(ordered)]


def run_starts(ordered: npt.NDArray[Int]) -> npt.NDArray[np.intp]:
    """Where each run of equal values of a sorted array begins."""
    first = np.ones(ordered.size, dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return np.flatnonzero(first)


def runs(ordered: npt.NDArray[Int]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Where each run of equal values of a sorted array begins, and its length."""
    starts = run_starts(ordered)
    return starts, np.diff(starts, append=ordered.size)


def counted(keys: npt.NDArray[Int]) -> tuple[npt.NDArray[Int], npt.NDArray[np.intp]]:
    """``np.unique(keys, return_counts=True)``, by one sort."""
    ordered = np.sort(keys)
    starts, lengths = runs(ordered)
    return ordered[starts], lengths


def within(values: npt.NDArray[Int], ordered: npt.NDArray[Int]) -> npt.NDArray[np.bool_]:
    """Which of ``values`` are in ``ordered`` (distinct and sorted): the
    ``np.isin`` answer by a binary search, without its sort of both."""
    if not ordered.size:
        return np.zeros(values.size, dtype=bool)
    at = np.minimum(np.searchsorted(ordered, values), ordered.size - 1)
    return np.asarray(ordered[at] == values)


def listed_by_key(
    keys: npt.NDArray[np.int64], bounds: npt.NDArray[np.intp], refs: npt.NDArray[np.uint64]
) -> dict[int, list[int]]:
    """``{keys[i]: refs[bounds[i]:bounds[i + 1]]}`` as lists: one ``tolist``
    cut per key rather than a Python step per ref."""
    listed = refs.tolist()
    return {key: listed[a:b] for key, (a, b) in zip(keys.tolist(), pairwise(bounds.tolist()), strict=True)}
