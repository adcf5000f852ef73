"""Seed-and-extend alignment of two token sequences.

Seeds are the k-grams the two sequences share. Each diagonal holding a seed
(source position minus query position), and its neighbours a few tokens
either way (a word inserted or deleted moves the rest of a passage onto the
next diagonal), is compared token by token: its runs of equal tokens are
the segments. Segments are chained when they follow each other in both
sequences with gaps of at most ``max_gap`` tokens, so a changed, inserted
or deleted word joins the two halves of a passage instead of splitting it.
Each join costs ``GAP_COST`` tokens: the heaviest chain (equal tokens less
the joins' cost) is a passage when that score reaches ``min_tokens`` and
it holds a seed. A verbatim run of ``min_tokens`` tokens passes, and so
does a 15-token quote with one word changed (14 - 2); a set phrase patched
together from short common runs ("a spokesperson of the ministry, X, said")
does not; its segments are then set aside and
the next chain is looked for, so one source paragraph may give several
passages (two quotes from it) but never overlapping ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from app.hashing.winnow import kgram_hashes

U64 = npt.NDArray[np.uint64]
# Pathological inputs (a word repeated hundreds of times on both sides)
# give quadratic seed counts; past these the rest is ignored.
MAX_SEEDS = 4096
MAX_DIAGONALS = 96
MAX_SEGMENTS = 400
MAX_SPANS = 64
# Runs shorter than this off the seeded runs are coincidences ("of the").
MIN_RUN = 2
# What joining two runs over a gap costs, in tokens (see above).
GAP_COST = 2


@dataclass(frozen=True, slots=True)
class Span:
    """A passage in token positions: query [q0, q1) aligned with source
    [s0, s1), with ``matched`` tokens equal in both."""

    q0: int
    q1: int
    s0: int
    s1: int
    matched: int


@njit(cache=True)
def _diagonals(query: np.ndarray, source: np.ndarray, k: int, max_gap: int) -> np.ndarray:
    """Diagonals of shared k-grams, each widened by ``max_gap`` either way."""
    hq, hs = kgram_hashes(query, k), kgram_hashes(source, k)
    if hq.size == 0 or hs.size == 0:
        return np.empty(0, dtype=np.int64)
    order = np.argsort(hs)
    ranked = hs[order]
    seeds = np.empty(MAX_SEEDS, dtype=np.int64)
    n = 0
    for i in range(hq.size):
        at = np.searchsorted(ranked, hq[i])
        while at < ranked.size and ranked[at] == hq[i] and n < MAX_SEEDS:
            seeds[n] = order[at] - i
            n += 1
            at += 1
    seeded = np.unique(seeds[:n])[:MAX_DIAGONALS]
    width = 2 * max_gap + 1
    near = np.empty(seeded.size * width, dtype=np.int64)
    for j in range(seeded.size):
        for shift in range(width):
            near[j * width + shift] = seeded[j] + shift - max_gap
    return np.unique(near)


@njit(cache=True)
def _segments(query: np.ndarray, source: np.ndarray, k: int, max_gap: int) -> np.ndarray:
    """Runs of equal tokens on the seeded diagonals and their neighbours:
    rows (q0, q1, diagonal), sorted by q0."""
    found = np.empty((MAX_SEGMENTS, 3), dtype=np.int64)
    n = 0
    for d in _diagonals(query, source, k, max_gap):
        i, hi = max(0, -d), min(query.size, source.size - d)
        while i < hi and n < MAX_SEGMENTS:
            if query[i] != source[i + d]:
                i += 1
                continue
            j = i + 1
            while j < hi and query[j] == source[j + d]:
                j += 1
            if j - i >= MIN_RUN:
                found[n, 0], found[n, 1], found[n, 2] = i, j, d
                n += 1
            i = j
    found = found[:n]
    # by q0, then diagonal (offset to be positive; tokens are far fewer than 2^24)
    return found[np.argsort(found[:, 0] * (1 << 26) + found[:, 2] + (1 << 25), kind="mergesort")]


@njit(cache=True)
def _align(query, source, k, min_score, max_gap, anchors, anchored, out):  # type: ignore[no-untyped-def]
    seg = _segments(query, source, k, max_gap)
    n = seg.shape[0]
    alive = np.ones(n, dtype=np.bool_)
    best = np.zeros(n, dtype=np.int64)
    previous = np.empty(n, dtype=np.int64)
    spans = 0
    while spans < out.shape[0]:
        top = -1
        for b in range(n):
            if not alive[b]:
                continue
            best[b] = seg[b, 1] - seg[b, 0]
            previous[b] = -1
            q0, s0 = seg[b, 0], seg[b, 0] + seg[b, 2]
            for a in range(b):
                if not alive[a]:
                    continue
                q1, s1 = seg[a, 1], seg[a, 1] + seg[a, 2]
                joined = best[a] + seg[b, 1] - seg[b, 0] - GAP_COST
                if joined > best[b] and q1 <= q0 <= q1 + max_gap and s1 <= s0 <= s1 + max_gap:
                    best[b] = joined
                    previous[b] = a
            if top < 0 or best[b] > best[top]:
                top = b
        if top < 0 or best[top] < min_score:
            break
        last, first, matched, seeded = top, top, 0, False
        while first >= 0:
            length = seg[first, 1] - seg[first, 0]
            matched += length
            seeded = seeded or length >= k
            alive[first] = False
            if previous[first] < 0:
                break
            first = previous[first]
        q0, q1 = seg[first, 0], seg[last, 1]
        s0, s1 = seg[first, 0] + seg[first, 2], seg[last, 1] + seg[last, 2]
        covered = not anchored
        for p in anchors:
            covered = covered or (q0 <= p and p + k <= q1)
        if seeded and covered:
            out[spans, 0], out[spans, 1], out[spans, 2] = q0, q1, s0
            out[spans, 3], out[spans, 4] = s1, matched
            spans += 1
        for c in range(n):
            sq0, sq1 = seg[c, 0], seg[c, 1]
            ss0, ss1 = sq0 + seg[c, 2], sq1 + seg[c, 2]
            if not (sq1 <= q0 or sq0 >= q1) or not (ss1 <= s0 or ss0 >= s1):
                alive[c] = False
    return spans


def align(
    query: U64,
    source: U64,
    k: int,
    min_tokens: int,
    max_gap: int,
    anchors: npt.NDArray[np.intp] | None = None,
) -> list[Span]:
    """Passages shared by two token sequences (token hashes), in query order.

    ``anchors``: query k-gram positions of which a passage must cover one
    (the rare fingerprints the archive lookup found); None: any seed does.
    Compiled: a check aligns its paragraphs with every candidate.
    """
    out = np.empty((MAX_SPANS, 5), dtype=np.int64)
    points = np.empty(0, dtype=np.int64) if anchors is None else anchors.astype(np.int64)
    count = _align(query, source, k, min_tokens, max_gap, points, anchors is not None, out)
    return sorted((Span(*row) for row in out[:count].tolist()), key=lambda s: s.q0)
