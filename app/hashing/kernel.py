"""Compiled kernels: code points -> normalised tokens -> shingles -> MinHash.

Input is the code points of the paragraphs laid end to end in one array (a
str widened to UCS-4 by numpy: one copy, no codec), and where each paragraph
starts. One pass per paragraph, no Python call per character, token or
shingle:

1. `normaliser.normalise_one`: apply NFKC where `nfkc` says it acts alike
   in every context (flagging the paragraphs where it does not), fold every
   code point through the tables of `charmap` and write the normalised
   paragraph as UTF-8: tokens joined by single spaces, noting where each
   token starts;
2. a shingle is the bytes of ``k`` consecutive tokens (one shingle for a
   paragraph with fewer than ``k`` tokens); its hash is the MurmurHash3 32-bit
   finaliser of its xxh32;
3. permutation j maps a hash h to ``a[j] * h + b[j] mod 2**32`` and the
   signature keeps the minimum: exactly datasketch's default ``affine32``
   scheme with ``hashfunc=xxhash.xxh32_intdigest``.

Helpers called per character or per shingle are inlined into the loops that
call them: a numba call that passes an array costs two atomic reference-count
updates, which used to cost more than hashing a shingle. The per-paragraph
stages (`normalise_one`, `_hash_shingles`) are compiled once, without
reference counting, and called: inlining them into every kernel tripled the
first compilation (to about a minute).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from app.hashing.memory import load32, no_refcount
from app.hashing.nfkc import BYTES_PER_CODE_POINT
from app.hashing.normaliser import normalise_one
from app.hashing.xxh32 import LANE_BYTES, OVERREAD, xxh32_at, xxh32_lane

EMPTY = np.uint32(0xFFFFFFFF)
# Room after the text: shingle hashing reads past a shingle's end (up to
# LANE_BYTES from its start), and the normaliser's 4-byte stores of UTF-8
# write up to 3 bytes past the text.
PADDING = max(OVERREAD, LANE_BYTES) + 1
ROW_PADDING = 16


@njit(cache=True, inline="always")
def _fmix32(h: np.uint32) -> np.uint32:
    # MurmurHash3's finaliser on 32-bit values, so that it vectorises with xxh32_lane.
    h ^= h >> np.uint32(16)
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h ^= h >> np.uint32(13)
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    h ^= h >> np.uint32(16)
    return h


@njit(cache=True, inline="always")
def _shingle_count(ntok: int, k: int) -> int:
    if ntok == 0:
        return 0
    return max(1, ntok - k + 1)


@njit(cache=True, inline="always")
def _shingle_hash(base: np.uint64, starts: np.ndarray, first: int, last: int) -> np.uint32:
    """Hash of tokens ``first`` to ``last - 1`` of the text at ``base``."""
    begin = starts[np.uint64(first)]
    length = starts[np.uint64(last)] - 1 - begin
    return _fmix32(xxh32_at(base + np.uint64(begin), np.uint64(length), np.uint64(0)))


@njit(cache=True, inline="always")
def _gather_words(base: np.uint64, starts: np.ndarray, count: int, words: np.ndarray, width: int) -> None:
    """The first ``width`` words of each shingle side by side, for xxh32_lane
    (``width`` a constant: a loop with a variable count was 7% slower)."""
    for s in range(count):
        at = base + np.uint64(starts[np.uint64(s)])
        for w in range(width):
            words[w, s] = np.uint32(load32(at + np.uint64(4 * w)))


# Compiled once and called per paragraph, not inlined: its three SIMD loops
# would otherwise be compiled again into every kernel. Without reference
# counting (see normaliser.normalise_one).
@no_refcount
def _hash_shingles(
    base: np.uint64,
    starts: np.ndarray,
    ntok: int,
    k: int,
    words: np.ndarray,
    lengths: np.ndarray,
    hashes: np.ndarray,
) -> int:
    """Hash every shingle of the normalised text at ``base`` into
    ``hashes``; return how many there are. The hashing loop is kept apart
    from the others, so that it compiles to SIMD code."""
    count = _shingle_count(ntok, k)
    longest = 0
    if ntok < k:
        if count:
            # One shingle, of every token.
            lengths[0] = starts[np.uint64(ntok)] - 1 - starts[0]
            longest = int(lengths[0])
    else:
        # Apart from the loads below, so that it compiles to SIMD code.
        for s in range(count):
            length = starts[np.uint64(s + k)] - 1 - starts[np.uint64(s)]
            lengths[s] = length
            longest = max(longest, length)
    for s in range(count):
        # The first four words: all that a shingle under 16 bytes (a Chinese
        # one) needs.
        at = base + np.uint64(starts[np.uint64(s)])
        for w in range(4):
            words[w, s] = np.uint32(load32(at + np.uint64(4 * w)))
    stripes = min(longest // 16, 2)
    # One pair of loops per number of stripes, each with it as a constant.
    if stripes == 0:
        for s in range(count):
            hashes[s] = _fmix32(xxh32_lane(words, lengths, s, 0))
    elif stripes == 1:
        _gather_words(base, starts, count, words, 8)
        for s in range(count):
            hashes[s] = _fmix32(xxh32_lane(words, lengths, s, 1))
    else:
        _gather_words(base, starts, count, words, 12)
        for s in range(count):
            hashes[s] = _fmix32(xxh32_lane(words, lengths, s, 2))
    if longest >= LANE_BYTES:
        for s in range(count):
            if lengths[s] >= LANE_BYTES:
                hashes[s] = _shingle_hash(base, starts, s, min(s + k, ntok))
    return count


@njit(cache=True, inline="always")
def _buffer_size(bounds: np.ndarray, first: int, last: int) -> int:
    longest = 0
    for p in range(first, last):
        longest = max(longest, bounds[p + 1] - bounds[p])
    return BYTES_PER_CODE_POINT * longest + PADDING


@njit(cache=True, inline="always")
def _shingle_buffers(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Room for the hashes of ``size`` shingles, their words and lengths."""
    size = max(size, 256)
    # Rows one cache line longer than needed: with a power-of-two length,
    # rows fell on the same cache sets 4 KiB apart, and the word loads and
    # stores waited on each other (French and Arabic took 25% longer).
    words = np.empty((LANE_BYTES // 4, size + ROW_PADDING), dtype=np.uint32)
    return np.empty(size, dtype=np.uint32), words, np.empty(size, dtype=np.uint32)


@njit(cache=True, inline="always")
def _with_room(
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray], ntok: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shingle buffers, or larger ones if they cannot hold the shingles
    of ``ntok`` tokens."""
    if _shingle_count(ntok, k) > buffers[0].size:
        return _shingle_buffers(max(2 * buffers[0].size, ntok))
    return buffers


@njit(cache=True, inline="always")
def _min_hash(hashes: np.ndarray, count: int, a: np.ndarray, b: np.ndarray, row: np.ndarray) -> None:
    """row[j] = min over the hashes of a[j] * h + b[j] mod 2**32."""
    row[:] = EMPTY
    # Eight (then four) shingles per pass over the permutations: an eighth
    # of the loads of the permutations and of the loads and stores of the
    # running minima.
    s = 0
    while s + 8 <= count:
        h1, h2, h3, h4 = hashes[s], hashes[s + 1], hashes[s + 2], hashes[s + 3]
        h5, h6, h7, h8 = hashes[s + 4], hashes[s + 5], hashes[s + 6], hashes[s + 7]
        for j in range(a.shape[0]):
            aj = a[j]
            bj = b[j]
            x = min(np.uint32(aj * h1 + bj), np.uint32(aj * h2 + bj))
            y = min(np.uint32(aj * h3 + bj), np.uint32(aj * h4 + bj))
            z = min(np.uint32(aj * h5 + bj), np.uint32(aj * h6 + bj))
            w = min(np.uint32(aj * h7 + bj), np.uint32(aj * h8 + bj))
            row[j] = min(row[j], min(min(x, y), min(z, w)))
        s += 8
    while s + 4 <= count:
        h1, h2, h3, h4 = hashes[s], hashes[s + 1], hashes[s + 2], hashes[s + 3]
        for j in range(a.shape[0]):
            x = min(np.uint32(a[j] * h1 + b[j]), np.uint32(a[j] * h2 + b[j]))
            y = min(np.uint32(a[j] * h3 + b[j]), np.uint32(a[j] * h4 + b[j]))
            row[j] = min(row[j], min(x, y))
        s += 4
    while s < count:
        h = hashes[s]
        for j in range(a.shape[0]):
            row[j] = min(row[j], np.uint32(a[j] * h + b[j]))
        s += 1


@njit(cache=True)
def _sign_range(data, bounds, first, last, k, a, b, tables, check, out, suspect):  # type: ignore[no-untyped-def]
    size = _buffer_size(bounds, first, last)
    text = np.empty(size, dtype=np.uint8)
    starts = np.empty(size // 2 + 2, dtype=np.int64)
    # Sized for the most shingles seen so far: sized for the worst case of
    # the longest paragraph, they took megabytes, and threads allocating and
    # faulting in fresh pages at once held each other up.
    hashes, words, lengths = _shingle_buffers(0)
    base = np.uint64(text.ctypes.data)
    for p in range(first, last):
        _, ntok, suspect[p] = normalise_one(data, bounds[p], bounds[p + 1], tables, check, text, starts)
        hashes, words, lengths = _with_room((hashes, words, lengths), ntok, k)
        count = _hash_shingles(base, starts, ntok, k, words, lengths, hashes)
        _min_hash(hashes, count, a, b, out[p])


@njit(cache=True)
def sign_serial(data, bounds, k, a, b, tables, check, out, suspect):  # type: ignore[no-untyped-def]
    _sign_range(data, bounds, 0, out.shape[0], k, a, b, tables, check, out, suspect)


@njit(cache=True, parallel=True)
def sign_parallel(data, bounds, k, a, b, tables, check, out, suspect, parts):  # type: ignore[no-untyped-def]
    n = out.shape[0]
    step = (n + parts - 1) // parts
    for c in prange(parts):
        first = c * step
        last = min(n, first + step)
        if first < last:
            _sign_range(data, bounds, first, last, k, a, b, tables, check, out, suspect)


@njit(cache=True)
def sign_hashes(values, offsets, a, b, out):  # type: ignore[no-untyped-def]
    """Signatures from shingle hashes already computed by ``shingle_hashes``:
    the same minima, without normalising and hashing the text a second time."""
    for p in range(out.shape[0]):
        first = offsets[p]
        _min_hash(values[first:], offsets[p + 1] - first, a, b, out[p])


@njit(cache=True, inline="always")
def _grown(values: np.ndarray, used: int, needed: int) -> np.ndarray:
    """A larger copy of ``values`` holding its first ``used`` entries."""
    grown = np.empty(max(2 * values.size, needed), dtype=values.dtype)
    grown[:used] = values[:used]
    return grown


@njit(cache=True)
def shingle_hashes(data, bounds, k, tables, check):  # type: ignore[no-untyped-def]
    """Normalised text and sorted distinct shingle hashes of every paragraph.

    Returns (text, text_offsets, values, value_offsets, suspect): paragraph
    p's normalised UTF-8 is ``text[text_offsets[p]:text_offsets[p + 1]]``
    and its shingle hashes are ``values[value_offsets[p]:value_offsets[p + 1]]``.
    """
    n = bounds.shape[0] - 1
    text = np.empty(BYTES_PER_CODE_POINT * data.shape[0], dtype=np.uint8)
    scratch = np.zeros(_buffer_size(bounds, 0, n), dtype=np.uint8)
    starts = np.empty(scratch.size // 2 + 2, dtype=np.int64)
    hashes, words, lengths = _shingle_buffers(0)
    values = np.empty(data.shape[0] + n, dtype=np.uint32)
    text_offsets = np.zeros(n + 1, dtype=np.int64)
    value_offsets = np.zeros(n + 1, dtype=np.int64)
    suspect = np.zeros(n, dtype=np.uint8)
    base = np.uint64(scratch.ctypes.data)
    pos = 0
    tpos = 0
    for p in range(n):
        length, ntok, suspect[p] = normalise_one(
            data, bounds[p], bounds[p + 1], tables, check, scratch, starts
        )
        text[tpos : tpos + length] = scratch[1 : 1 + length]
        first = pos
        hashes, words, lengths = _with_room((hashes, words, lengths), ntok, k)
        count = _hash_shingles(base, starts, ntok, k, words, lengths, hashes)
        if pos + count > values.size:
            # More shingles than code points: NFKC can make several tokens of
            # one character (U+32C6 is "7月").
            values = _grown(values, pos, pos + count)
        pos += count
        values[first:pos] = hashes[:count]
        values[first:pos].sort()
        write = first
        for i in range(first, pos):
            if i == first or values[i] != values[i - 1]:
                values[write] = values[i]
                write += 1
        pos = write
        tpos += length
        text_offsets[p + 1] = tpos
        value_offsets[p + 1] = pos
    return text[:tpos], text_offsets, values[:pos], value_offsets, suspect
