"""CandidateRule's hits from a lookup still in arrays (``hits_found``, the
embedded store's path) are the hits of the same lookup as a dict: the same
keys, the same refs in the same order, cut the same way."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from app.store.base import CandidateRule

KEYS = st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=12, unique=True)


@st.composite
def lookups(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    keys = np.array(sorted(draw(KEYS)), dtype=np.int64)
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, keys.size - 1), st.integers(0, 40)),  # few refs: repeats and long keys
            max_size=80,
        )
    )
    owners = np.array([o for o, _ in pairs], dtype=np.intp)
    refs = np.array([r for _, r in pairs], dtype=np.uint64)
    bands = np.array(draw(st.lists(st.sampled_from(keys.tolist()))), dtype=np.int64)
    return bands, keys, owners, refs


@given(lookups(), st.integers(1, 6), st.integers(0, 6), st.integers(1, 3))
def test_hits_found_are_the_hits_of_the_same_lookup(
    lookup: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],  # type: ignore[type-arg]
    per_band: int,
    max_postings: int,
    min_votes: int,
) -> None:
    bands, keys, owners, refs = lookup
    as_dict: dict[int, list[int]] = {}
    for owner, ref in zip(owners.tolist(), refs.tolist(), strict=True):
        as_dict.setdefault(int(keys[owner]), []).append(ref)
    rule = CandidateRule(per_band, max_postings, min_votes)
    assert rule.hits_found(bands, keys, owners, refs).as_dict() == rule.hits(bands, as_dict)


def test_a_long_key_is_cut_at_its_kind_of_limit() -> None:
    keys = np.array([5, 9], dtype=np.int64)
    owners = np.array([0] * 6 + [1] * 6, dtype=np.intp)
    refs = np.array([6, 5, 4, 3, 2, 1] * 2, dtype=np.uint64)
    found = CandidateRule(refs_per_band=2, max_postings=3).hits_found(keys[:1], keys, owners, refs)
    assert found.as_dict() == {5: [1, 2], 9: [1, 2, 3, 4]}


@given(lookups(), st.data(), st.integers(1, 6), st.integers(0, 6), st.integers(1, 3))
def test_wanted_from_hits_are_the_candidates_cut_gives(
    lookup: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],  # type: ignore[type-arg]
    data: st.DataObject,
    per_band: int,
    max_postings: int,
    min_votes: int,
) -> None:
    bands, keys, owners, refs = lookup
    # a fingerprint may occur several times in an article: one vote each
    postings = np.array(data.draw(st.lists(st.sampled_from(keys.tolist()))), dtype=np.int64)
    asked = set(bands.tolist()) | set(postings.tolist())
    found = [(o, r) for o, r in zip(owners.tolist(), refs.tolist(), strict=True) if int(keys[o]) in asked]
    as_dict: dict[int, list[int]] = {}
    for owner, ref in found:
        as_dict.setdefault(int(keys[owner]), []).append(ref)
    rule = CandidateRule(per_band, max_postings, min_votes)
    hits = rule.hits_found(
        bands,
        keys,
        np.array([o for o, _ in found], dtype=np.intp),
        np.array([r for _, r in found], dtype=np.uint64),
    )
    assert rule.wanted(bands, postings, hits).tolist() == sorted(rule.cut(bands, postings, as_dict)[1])
