"""Votes of a check's paragraphs for archived paragraphs.

A paragraph's candidates are the archived paragraphs its hits name: one
vote per band key for each of the key's lowest refs, and apart from those,
its passage seeds, one vote per occurrence of a rare fingerprint. Counted in
Python these were a step per (key, ref) pair, ~600 a 10-paragraph article
for each kind, and numpy's calls on such small arrays cost more than the
loop did (scratch replay of the 300 check articles at 1M paragraphs: 0.18-
0.20 ms a check against the loops' 0.14); one compiled pass over the whole
article (``vote_kernel``) does both. The answers are the loop's, order
included: a paragraph's band candidates come in the order of their first
vote, and when there are more than it may verify, most votes first (ties in
that order), as ``heapq.nlargest`` over the loop's dict gives them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from app.engine.passages import NO_SEEDS, PassageRules, Seeds
from app.engine.vote_kernel import vote
from app.hashing.winnow import Winnowing
from app.store.hits import Hits

Keys = npt.NDArray[np.int64]
Positions = npt.NDArray[np.intp]
Winnowed = tuple[Keys, Positions]  # a paragraph's winnowed values (store keys) and query positions

_NO_KEYS: Keys = np.empty(0, dtype=np.int64)
_NO_POSITIONS: Positions = np.empty(0, dtype=np.intp)


@dataclass(frozen=True)
class Votes:
    wanted: list[list[int]]  # per paragraph, its band candidates in the order it verifies them
    voted: list[list[int]]  # per paragraph, every ref its band keys gave it, ascending
    seeds: list[Seeds]  # per paragraph, its passage seeds (``Seeds``)


def article_votes(
    hits: Hits,
    bands: Sequence[Keys],
    winnowed: Sequence[Winnowed | None] | None,
    refs_per_band: int,
    most: int,
    rules: PassageRules | None,
) -> Votes:
    """Every paragraph's votes: from its band keys (``bands[i]``; at most
    ``most`` candidates a paragraph) and, with ``rules``, from its winnowed
    fingerprints (``winnowed[i]``, None: none looked up): the refs with
    ``rules.min_seeds`` votes or more, from fingerprints that propose at
    most ``rules.max_postings`` refs, most votes first then lowest ref, at
    most ``rules.max_sources``, each with the query positions of its votes."""
    count = len(bands)
    values: list[Keys] = [_NO_KEYS] * count
    positions: list[Positions] = [_NO_POSITIONS] * count
    if rules is not None and winnowed is not None:
        for i, w in enumerate(winnowed):
            if w is not None:
                values[i], positions[i] = w
    max_postings, min_seeds, max_sources = (
        (rules.max_postings, rules.min_seeds, rules.max_sources) if rules else (0, 1, 0)
    )
    joined_bands: Keys = np.concatenate(bands) if count else _NO_KEYS
    joined_values: Keys = np.concatenate(values) if count else _NO_KEYS
    joined_positions: Positions = np.concatenate(positions) if count else _NO_POSITIONS
    wanted_at, wanted, voted_at, voted, seeds_at, seeds, anchors_at, anchors = vote(
        hits.keys,
        hits.bounds,
        hits.refs,
        joined_bands,
        _bounds(bands),
        refs_per_band,
        most,
        joined_values,
        joined_positions,
        _bounds(values),
        max_postings,
        min_seeds,
        max_sources,
    )
    return Votes(
        _cut(wanted.tolist(), wanted_at.tolist()),
        _cut(voted.tolist(), voted_at.tolist()),
        _seeds(seeds.tolist(), seeds_at.tolist(), anchors, anchors_at.tolist()),
    )


def warm_up() -> None:
    """Load the compiled kernel before the first check."""
    hits = Hits.of({1: [1, 2], 2: [2]})
    keys = np.array([1, 2], dtype=np.int64)
    article_votes(
        hits, [keys], [(keys, np.arange(2, dtype=np.intp))], 1, 1, PassageRules(Winnowing(2, 1), 2, 2)
    )


def _bounds(arrays: Sequence[npt.NDArray[np.generic]]) -> Positions:
    bounds = np.zeros(len(arrays) + 1, dtype=np.intp)
    np.cumsum([a.size for a in arrays], out=bounds[1:])
    return bounds


def _cut(values: list[int], bounds: list[int]) -> list[list[int]]:
    return [values[a:b] for a, b in pairwise(bounds)]


def _seeds(refs: list[int], bounds: list[int], anchors: Positions, anchor_bounds: list[int]) -> list[Seeds]:
    out = []
    for a, b in pairwise(bounds):
        if a == b:
            out.append(NO_SEEDS)
            continue
        out.append(
            Seeds(refs[a:b], {refs[k]: anchors[anchor_bounds[k] : anchor_bounds[k + 1]] for k in range(a, b)})
        )
    return out
