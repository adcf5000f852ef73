"""A check's votes from its hits (``Hits``, ``article_votes``) are what the
plain loops over a dict of hits give, order included: the loops below are
the definition, written the obvious way."""

from __future__ import annotations

import heapq

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from app.engine.passages import NO_SEEDS, PassageRules, Seeds
from app.engine.votes import article_votes
from app.hashing.winnow import Winnowing
from app.store.hits import Hits

# Few distinct keys and refs, so that keys repeat, refs are shared and
# paragraphs crowd: the cases where order and cuts matter.
FOUND = st.dictionaries(
    st.integers(-5, 12),
    st.lists(st.integers(0, 15), min_size=1, max_size=9, unique=True).map(sorted),
    max_size=10,
)
PARAGRAPH_KEYS = st.lists(st.integers(-6, 14), max_size=12)


def as_keys(values: list[int]) -> np.ndarray:  # type: ignore[type-arg]
    return np.array(values, dtype=np.int64)


@given(FOUND)
def test_hits_hold_the_dict_they_were_made_from(found: dict[int, list[int]]) -> None:
    hits = Hits.of(found)
    assert hits.as_dict() == dict(sorted(found.items()))
    assert len(hits) == len(found)
    assert hits == Hits.of(dict(reversed(found.items())))
    if found:
        assert hits != Hits.of({k: v for k, v in found.items() if k != min(found)})


def loop_votes(
    found: dict[int, list[int]], bands: list[list[int]], per_band: int, most: int
) -> list[list[int]]:
    wanted = []
    for keys in bands:
        votes: dict[int, int] = {}
        for key in keys:
            for ref in found.get(key, [])[:per_band]:
                votes[ref] = votes.get(ref, 0) + 1
        if len(votes) > most:
            wanted.append(heapq.nlargest(most, votes, key=votes.__getitem__))
        else:
            wanted.append(list(votes))
    return wanted


@given(FOUND, st.lists(PARAGRAPH_KEYS, max_size=6), st.integers(1, 5), st.integers(1, 6))
# crowded: three candidates for two places, the most voted win, in vote order
@example({1: [1, 2, 3], 2: [2, 3], 3: [3]}, [[1, 2, 3], [3, 1]], 5, 2)
def test_band_votes_are_the_loops_votes(
    found: dict[int, list[int]], bands: list[list[int]], per_band: int, most: int
) -> None:
    votes = article_votes(Hits.of(found), [as_keys(b) for b in bands], None, per_band, most, None)
    assert votes.wanted == loop_votes(found, bands, per_band, most)
    voted = [sorted({r for k in keys for r in found.get(k, [])[:per_band]}) for keys in bands]
    assert votes.voted == voted


def loop_seeds(
    found: dict[int, list[int]], values: list[int], positions: list[int], rules: PassageRules
) -> Seeds:
    votes: dict[int, list[int]] = {}
    for value, at in zip(values, positions, strict=True):
        refs = found.get(value)
        if refs and len(refs) <= rules.max_postings:
            for ref in refs:
                votes.setdefault(ref, []).append(at)
    chosen = [r for r in votes if len(votes[r]) >= rules.min_seeds]
    ranked = sorted(chosen, key=lambda r: (-len(votes[r]), r))[: rules.max_sources]
    return Seeds(ranked, {r: np.asarray(votes[r], dtype=np.intp) for r in ranked})


@given(
    FOUND,
    st.lists(st.none() | PARAGRAPH_KEYS, max_size=6),
    st.integers(1, 9),
    st.integers(1, 3),
    st.integers(1, 4),
)
def test_seeds_are_the_loops_seeds(
    found: dict[int, list[int]],
    paragraphs: list[list[int] | None],
    max_postings: int,
    min_seeds: int,
    max_sources: int,
) -> None:
    rules = PassageRules(Winnowing(5, 4), 8, max_postings, max_sources=max_sources, min_seeds=min_seeds)
    # query positions in no particular order: the seeds keep each ref's in the values' order
    placed = [None if p is None else (p, [(7 * n) % 11 for n in range(len(p))]) for p in paragraphs]
    winnowed = [None if p is None else (as_keys(p[0]), np.array(p[1], dtype=np.intp)) for p in placed]
    bands = [as_keys([]) for _ in paragraphs]
    seeds = article_votes(Hits.of(found), bands, winnowed, 64, 50, rules).seeds
    for got, paragraph in zip(seeds, placed, strict=True):
        want = NO_SEEDS if paragraph is None else loop_seeds(found, *paragraph, rules)
        assert got.refs == want.refs
        assert {r: a.tolist() for r, a in got.anchors.items()} == {
            r: a.tolist() for r, a in want.anchors.items()
        }
