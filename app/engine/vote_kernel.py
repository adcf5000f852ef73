"""The compiled loop behind ``app/engine/votes.py``: every paragraph's
votes from its band keys and from its winnowed fingerprints, in one call.

One kernel rather than two: each cached kernel costs start-up time to load.
Each paragraph's (ref, query) pairs are gathered by a binary search of the
hits' keys, then grouped by one stable sort of the refs, so that ties keep
the pairs' order: the order a loop over the paragraph's keys gives.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Ix = npt.NDArray[np.intp]
_ALL = 1 << 62  # no cut


@njit(cache=True, inline="always")
def _slot(keys: I64, key: np.int64) -> int:
    lo, hi = 0, keys.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < keys.size and keys[lo] == key else -1


@njit(cache=True, inline="always")
def _pairs(
    keys: I64, bounds: Ix, refs: U64, queries: I64, a: int, b: int, first: int, at_most: int, out: U64, at: Ix
) -> int:
    """The (ref, query index) pairs of ``queries[a:b]`` into ``out`` and
    ``at`` (``None`` sized: count only); how many."""
    n = 0
    for q in range(a, b):
        slot = _slot(keys, queries[q])
        if slot < 0:
            continue
        lo, hi = bounds[slot], bounds[slot + 1]
        if hi - lo > at_most:
            continue
        hi = min(hi, lo + first)
        if out.size:
            for j in range(lo, hi):
                out[n + j - lo] = refs[j]
                at[n + j - lo] = q
        n += hi - lo
    return n


@njit(cache=True, inline="always")
def _runs(pair_refs: U64, n: int) -> tuple[Ix, U64, Ix, Ix]:
    """The first ``n`` pairs grouped by ref: the stable order of the pairs,
    then per distinct ref (ascending) the ref, its pairs and where they
    start in that order (its first pair in input order first)."""
    order = np.argsort(pair_refs[:n], kind="mergesort")
    run_refs = np.empty(n, dtype=np.uint64)
    run_votes = np.zeros(n, dtype=np.intp)
    run_starts = np.empty(n, dtype=np.intp)
    d = 0
    for j in range(n):
        ref = pair_refs[order[j]]
        if d == 0 or run_refs[d - 1] != ref:
            run_refs[d], run_starts[d] = ref, j
            d += 1
        run_votes[d - 1] += 1
    return order, run_refs[:d], run_votes[:d], run_starts[:d]


@njit(cache=True, nogil=True)
def vote(
    keys: I64,
    bounds: Ix,
    refs: U64,
    bands: I64,
    band_bounds: Ix,
    per_band: int,
    most: int,
    values: I64,
    positions: Ix,
    value_bounds: Ix,
    max_postings: int,
    min_seeds: int,
    max_sources: int,
) -> tuple[Ix, U64, Ix, U64, Ix, U64, Ix, Ix]:
    """Per paragraph ``p`` (its band keys ``bands[band_bounds[p]:band_bounds[p + 1]]``,
    its winnowed values likewise with their query positions):

    - wanted: its candidates from the bands, one vote per band key for each
      of the key's lowest ``per_band`` refs, in the order of their first
      vote; more than ``most``: the ``most`` with most votes, in that order;
    - voted: every ref those keys gave it, ascending;
    - seeds: the refs with ``min_seeds`` votes or more from fingerprints
      holding at most ``max_postings`` refs, most votes first then lowest
      ref, at most ``max_sources``, each with its votes' query positions.

    Returns (wanted bounds, wanted, voted bounds, voted, seed bounds, seeds,
    anchor bounds, anchors)."""
    count = band_bounds.size - 1
    none_u, none_i = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.intp)
    wanted_bounds = np.zeros(count + 1, dtype=np.intp)
    voted_bounds = np.zeros(count + 1, dtype=np.intp)
    seed_bounds = np.zeros(count + 1, dtype=np.intp)
    total_bands = _pairs(keys, bounds, refs, bands, 0, bands.size, per_band, _ALL, none_u, none_i)
    total_values = _pairs(keys, bounds, refs, values, 0, values.size, _ALL, max_postings, none_u, none_i)
    wanted = np.empty(total_bands, dtype=np.uint64)
    voted = np.empty(total_bands, dtype=np.uint64)
    seeds = np.empty(total_values, dtype=np.uint64)
    anchor_bounds = np.zeros(total_values + 1, dtype=np.intp)
    anchors = np.empty(total_values, dtype=np.intp)
    pair_refs = np.empty(max(total_bands, total_values), dtype=np.uint64)
    pair_at = np.empty(max(total_bands, total_values), dtype=np.intp)
    w = v = s = n_anchors = 0
    for p in range(count):
        n = _pairs(
            keys, bounds, refs, bands, band_bounds[p], band_bounds[p + 1], per_band, _ALL, pair_refs, pair_at
        )
        order, run_refs, run_votes, run_starts = _runs(pair_refs, n)
        d = run_refs.size
        voted[v : v + d] = run_refs
        v += d
        voted_bounds[p + 1] = v
        first = order[run_starts]  # each ref's first vote, as the loop met it
        if d > most:  # most votes first, then first voted: n pairs bound both
            ranked = np.argsort(-run_votes * (n + 1) + first, kind="mergesort")[:most]
        else:
            ranked = np.argsort(first, kind="mergesort")
        for r in ranked:
            wanted[w] = run_refs[r]
            w += 1
        wanted_bounds[p + 1] = w

        n = _pairs(
            keys,
            bounds,
            refs,
            values,
            value_bounds[p],
            value_bounds[p + 1],
            _ALL,
            max_postings,
            pair_refs,
            pair_at,
        )
        order, run_refs, run_votes, run_starts = _runs(pair_refs, n)
        # Runs are in ascending ref order: a stable sort by votes keeps it.
        for r in np.argsort(-run_votes, kind="mergesort"):
            if run_votes[r] < min_seeds or s - seed_bounds[p] == max_sources:
                break
            seeds[s] = run_refs[r]
            for j in range(run_starts[r], run_starts[r] + run_votes[r]):
                anchors[n_anchors] = positions[pair_at[order[j]]]
                n_anchors += 1
            s += 1
            anchor_bounds[s] = n_anchors
        seed_bounds[p + 1] = s
    return (
        wanted_bounds,
        wanted[:w],
        voted_bounds,
        voted[:v],
        seed_bounds,
        seeds[:s],
        anchor_bounds[: s + 1],
        anchors[:n_anchors],
    )
