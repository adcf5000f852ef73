"""Compiled kernels: code points -> normalised tokens -> shingles -> MinHash.

Input is the code points of the paragraphs laid end to end in one array (a
str widened to UCS-4 by numpy: one copy, no codec), and where each paragraph
starts. One pass per paragraph, no Python call per character, token or
shingle:

1. apply NFKC where `nfkc` says it acts alike in every context (flagging the
   paragraphs where it does not), fold every code point through the tables
   of `charmap` and write the normalised paragraph as UTF-8: tokens joined
   by single spaces, noting where each token starts;
2. a shingle is the bytes of ``k`` consecutive tokens (one shingle for a
   paragraph with fewer than ``k`` tokens); its hash is the MurmurHash3 32-bit
   finaliser of its xxh32;
3. permutation j maps a hash h to ``a[j] * h + b[j] mod 2**32`` and the
   signature keeps the minimum: exactly datasketch's default ``affine32``
   scheme with ``hashfunc=xxhash.xxh32_intdigest``.

Helpers called per character or per shingle are inlined into the loops that
call them: a numba call that passes an array costs two atomic reference-count
updates, which used to cost more than hashing a shingle. The per-paragraph
stages (`normalise_one`, `_hash_shingles`) are compiled once and called: a
call is lost in a paragraph's work, and inlining them into every kernel
tripled the first compilation (to about a minute).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from app.hashing.charmap import ALONE, ASTRAL_ALONE, DELETE, MULTI, PLANE, SEPARATOR, WORD
from app.hashing.memory import load32, store32
from app.hashing.nfkc import (
    BYTES_PER_CODE_POINT,
    FAST_ALONE_SHIFT,
    FAST_BYTES,
    FAST_LENGTH_SHIFT,
    FAST_TRAILING_SHIFT,
    FAST_WORD_SHIFT,
    REPLACED,
    TRANSPARENT,
    UNSTABLE,
)
from app.hashing.nfkc import LIMIT as NFKC_LIMIT
from app.hashing.xxh32 import LANE_BYTES, OVERREAD, xxh32_at, xxh32_lane

SPACE = np.uint8(0x20)
EMPTY = np.uint32(0xFFFFFFFF)
_ASTRAL_LO = ASTRAL_ALONE[0]
_ASTRAL_HI = ASTRAL_ALONE[1]
# Room after the text: xxh32 reads a few bytes past a shingle's end.
PADDING = max(OVERREAD, LANE_BYTES) + 1


@njit(cache=True, inline="always")
def fmix32(h: np.uint64) -> np.uint32:
    h = h & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    return np.uint32(h)


@njit(cache=True, inline="always")
def _fmix32_lane(h: np.uint32) -> np.uint32:
    # fmix32 on 32-bit values, so that it vectorises with xxh32_lane.
    h ^= h >> np.uint32(16)
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h ^= h >> np.uint32(13)
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    h ^= h >> np.uint32(16)
    return h


@njit(cache=True, inline="always")
def _put(out: np.ndarray, n: int, cp: int) -> int:
    """UTF-8 encode one code point at out[n]; return the new length."""
    if cp < 0x80:
        out[n] = cp
        return n + 1
    if cp < 0x800:
        out[n] = 0xC0 | (cp >> 6)
        out[n + 1] = 0x80 | (cp & 0x3F)
        return n + 2
    if cp < 0x10000:
        out[n] = 0xE0 | (cp >> 12)
        out[n + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[n + 2] = 0x80 | (cp & 0x3F)
        return n + 3
    out[n] = 0xF0 | (cp >> 18)
    out[n + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[n + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[n + 3] = 0x80 | (cp & 0x3F)
    return n + 4


@njit(cache=True, inline="always")
def _fast_action(fast: np.ndarray, c: int) -> int:
    """The fast table's entry for code point ``c``; 0: the general path."""
    return int(np.int64(fast[c])) if c < PLANE else 0


@njit(cache=True)
def normalise_one(
    data: np.ndarray,
    start: int,
    end: int,
    tables: tuple[np.ndarray, ...],
    check: bool,
    out: np.ndarray,
    starts: np.ndarray,
) -> tuple[int, int, int]:
    """Write the normalised UTF-8 of code points ``data[start:end]`` to
    ``out`` and each token's offset to ``starts``, then ``length + 1`` as a
    sentinel so that token t spans ``out[starts[t]:starts[t + 1] - 1]``.

    With ``check``, the text is raw: characters NFKC replaces alike in every
    context are replaced here, and the text is reported as suspect where
    NFKC would also act on context (the caller then normalises it with
    ``unicodedata`` and calls again without ``check``). Without, the text
    must be in NFKC form already.

    Returns (length in bytes, number of tokens, suspect).
    """
    kind, mapped, extra, nf_flags, nf_mapped, nf_extra, fast = tables
    address = np.uint64(out.ctypes.data)
    n = 0
    ntok = 0
    gap = 1  # the next token byte starts a new token
    trailing = 0  # combining class that ends the last character
    suspect = 0
    i = start
    while i < end:
        # Indices cast to unsigned: numba then skips the test for negative
        # (wrap-around) indices, a quarter of the instructions of this loop.
        c = data[np.uint64(i)]
        action = _fast_action(fast, c)
        if action != 0:
            # A run of characters that the fast table alone decides (nearly
            # all), in a loop of its own: with only the values it needs live,
            # they stay in registers (in the outer loop, the token count went
            # through the stack at every character). Branch-free: whether a
            # character ends, starts or continues a token is data-dependent,
            # and mispredicted branches cost more than the stores below,
            # some of which are undone.
            while True:
                word = (action >> FAST_WORD_SHIFT) & 1
                alone = (action >> FAST_ALONE_SHIFT) & 1
                new = word & (gap | alone)
                out[np.uint64(n)] = SPACE
                n += new & int(n > 0)
                starts[np.uint64(ntok)] = n
                ntok += new
                # All of its UTF-8 in one 4-byte store: the bytes after it
                # are overwritten next or lie past the text.
                store32(address + np.uint64(n), np.uint64(action & FAST_BYTES))
                n += (action >> FAST_LENGTH_SHIFT) & 3
                gap = alone | (1 - word)
                trailing = (action >> FAST_TRAILING_SHIFT) & 0xFF
                i += 1
                if i == end:
                    break
                c = data[np.uint64(i)]
                action = _fast_action(fast, c)
                if action == 0:
                    break
            continue
        i += 1
        cp = int(c)
        count = 1
        at = -1
        if c < 0x80:
            trailing = 0
        elif check:
            flags = int(nf_flags[c]) if c < NFKC_LIMIT else 0
            if flags == REPLACED:
                at = nf_mapped[c]
                count = nf_extra[at]
                trailing = nf_extra[at + 1]
            elif flags == UNSTABLE:
                suspect = 1
            elif flags != TRANSPARENT:
                leading = flags & 0xFF
                suspect |= int(0 < leading < trailing)
                trailing = flags >> 8
        # One code point, or the several of its NFKC replacement.
        for q in range(count):
            if at >= 0:
                cp = int(nf_extra[at + 2 + q])
            if cp < PLANE:
                k = kind[cp]
            elif _ASTRAL_LO <= cp <= _ASTRAL_HI:
                k = ALONE
            else:
                k = WORD
            if k == SEPARATOR:
                gap = 1
            elif k != DELETE:
                if gap == 1 or k == ALONE:
                    if n > 0:
                        out[n] = SPACE
                        n += 1
                    starts[ntok] = n
                    ntok += 1
                gap = int(k == ALONE)
                if k == MULTI:
                    mat = mapped[cp]
                    for j in range(extra[mat]):
                        n = _put(out, n, int(extra[mat + 1 + j]))
                else:
                    n = _put(out, n, int(mapped[cp]) if cp < PLANE and k == WORD else cp)
    starts[ntok] = n + 1
    return n, ntok, suspect


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
    return fmix32(xxh32_at(base + np.uint64(begin), np.uint64(length), np.uint64(0)))


@njit(cache=True, inline="always")
def _gather_words(base: np.uint64, starts: np.ndarray, count: int, words: np.ndarray, width: int) -> None:
    """The first ``width`` words of each shingle side by side, for xxh32_lane
    (``width`` a constant: a loop with a variable count was 7% slower)."""
    for s in range(count):
        at = base + np.uint64(starts[np.uint64(s)])
        for w in range(width):
            words[w, s] = np.uint32(load32(at + np.uint64(4 * w)))


# Compiled once and called per paragraph, not inlined: its three SIMD loops
# would otherwise be compiled again into every kernel.
@njit(cache=True)
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
    for s in range(count):
        begin = starts[np.uint64(s)]
        length = starts[np.uint64(min(s + k, ntok))] - 1 - begin
        lengths[s] = length
        longest = max(longest, length)
        # The first four words, all a shingle under 16 bytes (a Chinese one)
        # needs, while its offset is at hand.
        at = base + np.uint64(begin)
        for w in range(4):
            words[w, s] = np.uint32(load32(at + np.uint64(4 * w)))
    stripes = min(longest // 16, 2)
    # One pair of loops per number of stripes, each with it as a constant.
    if stripes == 0:
        for s in range(count):
            hashes[s] = _fmix32_lane(xxh32_lane(words, lengths, s, 0))
    elif stripes == 1:
        _gather_words(base, starts, count, words, 8)
        for s in range(count):
            hashes[s] = _fmix32_lane(xxh32_lane(words, lengths, s, 1))
    else:
        _gather_words(base, starts, count, words, 12)
        for s in range(count):
            hashes[s] = _fmix32_lane(xxh32_lane(words, lengths, s, 2))
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
    words = np.empty((LANE_BYTES // 4, size), dtype=np.uint32)
    return np.empty(size, dtype=np.uint32), words, np.empty(size, dtype=np.uint32)


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
        if _shingle_count(ntok, k) > hashes.size:
            hashes, words, lengths = _shingle_buffers(max(2 * hashes.size, ntok))
        count = _hash_shingles(base, starts, ntok, k, words, lengths, hashes)
        _min_hash(hashes, count, a, b, out[p])


@njit(cache=True)
def sign_serial(data, bounds, k, a, b, tables, check, out, suspect):  # type: ignore[no-untyped-def]
    _sign_range(data, bounds, 0, out.shape[0], k, a, b, tables, check, out, suspect)


@njit(cache=True, parallel=True)
def sign_parallel(data, bounds, k, a, b, tables, check, out, suspect, chunks):  # type: ignore[no-untyped-def]
    n = out.shape[0]
    step = (n + chunks - 1) // chunks
    for c in prange(chunks):
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


@njit(cache=True)
def shingle_hashes(data, bounds, k, tables, check):  # type: ignore[no-untyped-def]
    """Normalised text and sorted distinct shingle hashes of every paragraph.

    Returns (text, text_offsets, values, value_offsets, suspect): paragraph
    p's normalised UTF-8 is ``text[text_offsets[p]:text_offsets[p + 1]]``
    and its shingle hashes are ``values[value_offsets[p]:value_offsets[p + 1]]``.
    """
    n = bounds.shape[0] - 1
    text = np.zeros(BYTES_PER_CODE_POINT * data.shape[0] + PADDING, dtype=np.uint8)
    starts = np.empty(_buffer_size(bounds, 0, n) // 2 + 2, dtype=np.int64)
    hashes, words, lengths = _shingle_buffers(0)
    values = np.empty(data.shape[0] + n, dtype=np.uint32)
    text_offsets = np.zeros(n + 1, dtype=np.int64)
    value_offsets = np.zeros(n + 1, dtype=np.int64)
    suspect = np.zeros(n, dtype=np.uint8)
    pos = 0
    tpos = 0
    for p in range(n):
        view = text[tpos:]
        length, ntok, suspect[p] = normalise_one(data, bounds[p], bounds[p + 1], tables, check, view, starts)
        first = pos
        if _shingle_count(ntok, k) > hashes.size:
            hashes, words, lengths = _shingle_buffers(max(2 * hashes.size, ntok))
        count = _hash_shingles(np.uint64(view.ctypes.data), starts, ntok, k, words, lengths, hashes)
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
