from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from app.hashing import overlap
from app.hashing.similarity import intersection_size

sets = st.sets(st.integers(min_value=0, max_value=2**32 - 1), max_size=80).map(
    lambda s: np.array(sorted(s), dtype=np.uint32)
)


@given(sets, sets)
def test_intersection_matches_numpy(a: np.ndarray, b: np.ndarray) -> None:
    expected = np.intersect1d(a, b, assume_unique=True).size
    assert intersection_size(a, b) == expected
    assert intersection_size(b, a) == expected


@given(sets, sets)
def test_overlap_is_exact_jaccard_and_containment(a: np.ndarray, b: np.ndarray) -> None:
    got = overlap(a, b)
    sa, sb = set(a.tolist()), set(b.tolist())
    if not sa or not sb:
        assert got == (0.0, 0.0)
        return
    shared = len(sa & sb)
    assert got.similarity == shared / len(sa | sb)
    assert got.containment == shared / min(len(sa), len(sb))
    assert overlap(b, a) == got
