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

from app.hashing.winnow import kgram_hashes

U64 = npt.NDArray[np.uint64]
# Pathological inputs (a word repeated hundreds of times on both sides)
# give quadratic seed counts; past these the rest is ignored.
MAX_SEEDS = 4096
MAX_DIAGONALS = 96
MAX_SEGMENTS = 400
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


@dataclass(frozen=True, slots=True)
class _Segment:
    q0: int
    q1: int
    diagonal: int

    @property
    def s0(self) -> int:
        return self.q0 + self.diagonal

    @property
    def s1(self) -> int:
        return self.q1 + self.diagonal


def seed_diagonals(query: U64, source: U64, k: int) -> npt.NDArray[np.int64]:
    """Distinct diagonals (source position - query position) of shared k-grams."""
    hq, hs = kgram_hashes(query, k), kgram_hashes(source, k)
    if not hq.size or not hs.size:
        return np.empty(0, dtype=np.int64)
    order = np.argsort(hs, kind="stable")
    ranked = hs[order]
    left = np.searchsorted(ranked, hq, "left")
    counts = np.searchsorted(ranked, hq, "right") - left
    total = int(counts.sum())
    if not total:
        return np.empty(0, dtype=np.int64)
    if total > MAX_SEEDS:
        counts = np.minimum(counts, max(1, MAX_SEEDS // max(1, int(np.count_nonzero(counts)))))
        total = int(counts.sum())
    q_at = np.repeat(np.arange(hq.size), counts)
    first = np.repeat(left - (np.cumsum(counts) - counts), counts)
    s_at = order[first + np.arange(total)]
    return np.unique(s_at.astype(np.int64) - q_at)


def _runs(query: U64, source: U64, diagonal: int, shortest: int) -> list[_Segment]:
    lo = max(0, -diagonal)
    hi = min(query.size, source.size - diagonal)
    if hi - lo < shortest:
        return []
    equal = query[lo:hi] == source[lo + diagonal : hi + diagonal]
    edges = np.diff(np.concatenate(([0], equal.view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    keep = ends - starts >= shortest
    return [
        _Segment(lo + a, lo + b, diagonal)
        for a, b in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True)
    ]


def _segments(query: U64, source: U64, k: int, max_gap: int) -> list[_Segment]:
    seeded = seed_diagonals(query, source, k)[:MAX_DIAGONALS].tolist()
    near = sorted({d + shift for d in seeded for shift in range(-max_gap, max_gap + 1)})
    segments: list[_Segment] = []
    for diagonal in near:
        segments += _runs(query, source, diagonal, MIN_RUN)
        if len(segments) >= MAX_SEGMENTS:
            break
    segments.sort(key=lambda s: (s.q0, s.diagonal))
    return segments[:MAX_SEGMENTS]


def _follows(a: _Segment, b: _Segment, max_gap: int) -> bool:
    """b may come right after a in a chain."""
    return a.q1 <= b.q0 <= a.q1 + max_gap and a.s1 <= b.s0 <= a.s1 + max_gap


def _best_chain(segments: list[_Segment], max_gap: int) -> tuple[list[int], int]:
    """Indices of the chain of segments with the best score, and the score."""
    weight = [s.q1 - s.q0 for s in segments]
    best = weight[:]
    previous = [-1] * len(segments)
    for b, seg in enumerate(segments):
        for a in range(b):
            joined = best[a] + weight[b] - GAP_COST
            if joined > best[b] and _follows(segments[a], seg, max_gap):
                best[b] = joined
                previous[b] = a
    end = max(range(len(segments)), key=best.__getitem__)
    chain = [end]
    while previous[chain[-1]] >= 0:
        chain.append(previous[chain[-1]])
    return chain[::-1], best[end]


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
    """
    segments = _segments(query, source, k, max_gap)
    spans: list[Span] = []
    while segments:
        indices, score = _best_chain(segments, max_gap)
        chain = [segments[i] for i in indices]
        first, last = chain[0], chain[-1]
        matched = sum(s.q1 - s.q0 for s in chain)
        if score < min_tokens:
            break
        span = Span(first.q0, last.q1, first.s0, last.s1, matched)
        seeded = any(s.q1 - s.q0 >= k for s in chain)
        anchored = anchors is None or bool(np.any((anchors >= span.q0) & (anchors + k <= span.q1)))
        if seeded and anchored:
            spans.append(span)
        segments = [
            s
            for s in segments
            if (s.q1 <= span.q0 or s.q0 >= span.q1) and (s.s1 <= span.s0 or s.s0 >= span.s1)
        ]
    return sorted(spans, key=lambda s: s.q0)
