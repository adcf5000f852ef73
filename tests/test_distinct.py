"""``distinct`` answers what ``np.unique`` answers, for the key types the
stores use, and hands back keys already distinct and sorted untouched."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from app.store.distinct import counted, distinct, run_starts, runs, within

# Few distinct values, so that repeats are common; the extremes included
# (a signed comparison must not wrap).
SIGNED = st.sampled_from([-(2**63), -5, -1, 0, 1, 7, 2**62, 2**63 - 1])
UNSIGNED = st.sampled_from([0, 1, 7, 2**32, 2**63, 2**64 - 1])


@given(arrays(np.int64, st.integers(0, 60), elements=SIGNED))
def test_signed_keys_as_np_unique(keys: np.ndarray) -> None:  # type: ignore[type-arg]
    got = distinct(keys)
    assert got.dtype == keys.dtype
    assert got.tolist() == np.unique(keys).tolist()


@given(arrays(np.uint64, st.integers(0, 60), elements=UNSIGNED))
def test_unsigned_keys_as_np_unique(keys: np.ndarray) -> None:  # type: ignore[type-arg]
    assert distinct(keys).tolist() == np.unique(keys).tolist()


@given(arrays(np.int64, st.integers(0, 60), elements=st.integers(-(2**63), 2**63 - 1), unique=True))
def test_keys_already_distinct_and_sorted_are_not_copied(keys: np.ndarray) -> None:  # type: ignore[type-arg]
    ordered = np.sort(keys)
    assert distinct(ordered) is ordered
    if keys.size > 1 and not (keys[1:] > keys[:-1]).all():
        assert distinct(keys) is not keys


@given(arrays(np.int64, st.integers(1, 60), elements=SIGNED))
def test_run_starts_are_np_unique_first_indices(keys: np.ndarray) -> None:  # type: ignore[type-arg]
    ordered = np.sort(keys)
    _, first = np.unique(ordered, return_index=True)
    assert run_starts(ordered).tolist() == first.tolist()


@given(arrays(np.int64, st.integers(0, 60), elements=SIGNED))
def test_counted_as_np_unique_with_counts(keys: np.ndarray) -> None:  # type: ignore[type-arg]
    values, counts = counted(keys)
    expected_values, expected_counts = np.unique(keys, return_counts=True)
    assert values.tolist() == expected_values.tolist()
    assert counts.tolist() == expected_counts.tolist()


@given(
    arrays(np.int64, st.integers(0, 40), elements=SIGNED),
    arrays(np.int64, st.integers(0, 40), elements=SIGNED),
)
def test_within_as_np_isin(values: np.ndarray, others: np.ndarray) -> None:  # type: ignore[type-arg]
    ordered = np.unique(others)
    assert within(values, ordered).tolist() == np.isin(values, ordered).tolist()


@given(arrays(np.int64, st.integers(0, 60), elements=SIGNED))
def test_runs_are_np_unique_first_indices_and_counts(keys: np.ndarray) -> None:  # type: ignore[type-arg]
    ordered = np.sort(keys)
    _, first, counts = np.unique(ordered, return_index=True, return_counts=True)
    starts, lengths = runs(ordered)
    assert (starts.tolist(), lengths.tolist()) == (first.tolist(), counts.tolist())
