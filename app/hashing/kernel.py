"""Compiled kernels: code points -> normalised tokens -> shingles -> MinHash.

Input is the UTF-8 of each paragraph's NFKC form, the paragraphs laid end to
end in one array, each followed by one separator byte. One pass per paragraph, no
Python call per character, token or shingle:

1. fold every code point through the tables of `charmap` and write the
   normalised paragraph as UTF-8: tokens joined by single spaces, noting
   where each token starts;
2. a shingle is the bytes of ``k`` consecutive tokens (one shingle for a
   paragraph with fewer than ``k`` tokens); its hash is the MurmurHash3 32-bit
   finaliser of its xxh32;
3. permutation j maps a hash h to ``a[j] * h + b[j] mod 2**32`` and the
   signature keeps the minimum: exactly datasketch's default ``affine32``
   scheme with ``hashfunc=xxhash.xxh32_intdigest``.

Every helper is inlined into the loops that call it: a numba call that passes
an array costs two atomic reference-count updates, which used to cost more
than hashing a shingle.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from app.hashing.charmap import ALONE, ASTRAL_ALONE, DELETE, MULTI, PLANE, SEPARATOR, WORD
from app.hashing.xxh32 import OVERREAD, xxh32_at

SPACE = np.uint8(0x20)
EMPTY = np.uint32(0xFFFFFFFF)
NOT_SIMPLE = np.uint8(0xFF)
UNSTABLE = 0xFFFF
_ASTRAL_LO = ASTRAL_ALONE[0]
_ASTRAL_HI = ASTRAL_ALONE[1]
# Worst case output bytes per input byte: a 2-byte character whose case
# folding is 3 code points of 3 bytes each, plus a space.
BYTES_PER_INPUT_BYTE = 6
# Room after the text: xxh32 reads a few bytes past a shingle's end.
PADDING = OVERREAD + 1


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
def ascii_table(kind: np.ndarray, mapped: np.ndarray) -> np.ndarray:
    """Per ASCII byte: 0 for a separator, else its folded byte; NOT_SIMPLE
    where the general path must decide (no such byte in the shipped tables)."""
    table = np.empty(128, dtype=np.uint8)
    for c in range(128):
        if kind[c] == SEPARATOR:
            table[c] = 0
        elif kind[c] == WORD and 0 < mapped[c] < 128:
            table[c] = mapped[c]
        else:
            table[c] = NOT_SIMPLE
    return table


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
def _decode(data: np.ndarray, i: int) -> tuple[int, int]:
    """The code point starting at data[i] (valid UTF-8) and the next offset."""
    c = int(data[i])
    if c < 0xE0:
        return ((c & 0x1F) << 6) | (int(data[i + 1]) & 0x3F), i + 2
    if c < 0xF0:
        return ((c & 0x0F) << 12) | ((int(data[i + 1]) & 0x3F) << 6) | (int(data[i + 2]) & 0x3F), i + 3
    cp = ((c & 0x07) << 18) | ((int(data[i + 1]) & 0x3F) << 12)
    return cp | ((int(data[i + 2]) & 0x3F) << 6) | (int(data[i + 3]) & 0x3F), i + 4


@njit(cache=True, inline="always")
def _changing_segment(data: np.ndarray, i: int, end: int, stable: np.ndarray) -> tuple[int, int]:
    """The first segment of ``data[i:end]`` that NFKC may change, or (end, end)."""
    segment = i
    trailing = 0
    changing = False
    while i < end:
        at = i
        if data[np.uint64(i)] < 0x80:
            flags = 0
            i += 1
        else:
            cp, i = _decode(data, i)
            flags = int(stable[cp]) if cp < PLANE else UNSTABLE
        leading = flags & 0xFF
        if flags != UNSTABLE and leading == 0:  # a segment boundary
            if changing:
                return segment, at
            segment = at
        elif flags == UNSTABLE or leading < trailing:
            changing = True
        trailing = flags >> 8
    if changing:
        return segment, end
    return end, end


@njit(cache=True)
def nfkc_spans(
    data: np.ndarray, bounds: np.ndarray, which: np.ndarray, stable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Byte ranges of texts ``which`` (sorted) that may differ from their NFKC
    form, as sorted (starts, ends); every other byte is already NFKC.

    With ``stable`` from ``minhash._nfkc_stable``: NFKC acts on segments that
    begin at a character with no combining class that NFKC keeps and never
    composes backwards, and one such segment changes only if it holds an
    UNSTABLE code point (or one outside the BMP) or marks out of canonical
    order. The ranges are those segments; a text's end closes its last one.
    Two passes, count then fill: growing an array inside the loop would add
    reference counting to every iteration.
    """
    count = 0
    for p in which:
        i, end = bounds[p], bounds[p + 1] - 1
        while i < end:
            lo, i = _changing_segment(data, i, end, stable)
            count += int(lo < end)
    starts = np.empty(count, dtype=np.int64)
    ends = np.empty(count, dtype=np.int64)
    count = 0
    for p in which:
        i, end = bounds[p], bounds[p + 1] - 1
        while i < end:
            lo, i = _changing_segment(data, i, end, stable)
            if lo < end:
                starts[count] = lo
                ends[count] = i
                count += 1
    return starts, ends


@njit(cache=True, inline="always")
def normalise_one(
    data: np.ndarray,
    start: int,
    end: int,
    ascii_map: np.ndarray,
    kind: np.ndarray,
    mapped: np.ndarray,
    extra: np.ndarray,
    out: np.ndarray,
    starts: np.ndarray,
) -> tuple[int, int]:
    """Write the normalised UTF-8 of ``data[start:end]`` to ``out`` and each
    token's offset to ``starts``, then ``length + 1`` as a sentinel so that
    token t spans ``out[starts[t]:starts[t + 1] - 1]``.

    Returns (length in bytes, number of tokens).
    """
    n = 0
    ntok = 0
    gap = 1  # the next token byte starts a new token
    i = start
    while i < end:
        # Indices cast to unsigned: numba then skips the test for negative
        # (wrap-around) indices, a quarter of the instructions of this loop.
        c = data[np.uint64(i)]
        if c < 0x80:
            m = ascii_map[c]
            if m != NOT_SIMPLE:
                # Branch-free: whether a byte ends, starts or continues a
                # token is data-dependent, and mispredicted branches on it
                # cost more than the stores below, some of which are undone.
                word = int(m != 0)
                new = word & gap
                out[np.uint64(n)] = SPACE
                n += new & int(n > 0)
                starts[np.uint64(ntok)] = n
                ntok += new
                out[np.uint64(n)] = m
                n += word
                gap = 1 - word
                i += 1
                continue
            cp = int(c)
            i += 1
        else:
            cp, i = _decode(data, i)
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
                at = mapped[cp]
                for j in range(extra[at]):
                    n = _put(out, n, int(extra[at + 1 + j]))
            else:
                n = _put(out, n, int(mapped[cp]) if cp < PLANE and k == WORD else cp)
    starts[ntok] = n + 1
    return n, ntok


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
def _buffer_size(bounds: np.ndarray, first: int, last: int) -> int:
    longest = 0
    for p in range(first, last):
        longest = max(longest, bounds[p + 1] - bounds[p])
    return BYTES_PER_INPUT_BYTE * longest + PADDING


@njit(cache=True)
def _sign_range(data, bounds, first, last, k, a, b, kind, mapped, extra, out):  # type: ignore[no-untyped-def]
    num_perm = a.shape[0]
    size = _buffer_size(bounds, first, last)
    text = np.zeros(size, dtype=np.uint8)
    starts = np.empty(size, dtype=np.int64)
    acc = np.empty(num_perm, dtype=np.uint32)
    ascii_map = ascii_table(kind, mapped)
    base = np.uint64(text.ctypes.data)
    for p in range(first, last):
        _, ntok = normalise_one(
            data, bounds[p], bounds[p + 1] - 1, ascii_map, kind, mapped, extra, text, starts
        )
        acc[:] = EMPTY
        count = _shingle_count(ntok, k)
        # Two shingles per pass over the permutations: half the loads and
        # stores of the running minima.
        for s in range(0, count - 1, 2):
            h1 = _shingle_hash(base, starts, s, min(s + k, ntok))
            h2 = _shingle_hash(base, starts, s + 1, min(s + 1 + k, ntok))
            for j in range(num_perm):
                acc[j] = min(acc[j], min(np.uint32(a[j] * h1 + b[j]), np.uint32(a[j] * h2 + b[j])))
        if count % 2 == 1:
            h = _shingle_hash(base, starts, count - 1, min(count - 1 + k, ntok))
            for j in range(num_perm):
                acc[j] = min(acc[j], np.uint32(a[j] * h + b[j]))
        out[p, :] = acc


@njit(cache=True)
def sign_serial(data, bounds, k, a, b, kind, mapped, extra, out):  # type: ignore[no-untyped-def]
    _sign_range(data, bounds, 0, out.shape[0], k, a, b, kind, mapped, extra, out)


@njit(cache=True, parallel=True)
def sign_parallel(data, bounds, k, a, b, kind, mapped, extra, out, chunks):  # type: ignore[no-untyped-def]
    n = out.shape[0]
    step = (n + chunks - 1) // chunks
    for c in prange(chunks):
        first = c * step
        last = min(n, first + step)
        if first < last:
            _sign_range(data, bounds, first, last, k, a, b, kind, mapped, extra, out)


@njit(cache=True)
def sign_hashes(values, offsets, a, b, out):  # type: ignore[no-untyped-def]
    """Signatures from shingle hashes already computed by ``shingle_hashes``:
    the same minima, without normalising and hashing the text a second time."""
    num_perm = a.shape[0]
    acc = np.empty(num_perm, dtype=np.uint32)
    for p in range(out.shape[0]):
        acc[:] = EMPTY
        for i in range(offsets[p], offsets[p + 1]):
            h = values[i]
            for j in range(num_perm):
                acc[j] = min(acc[j], np.uint32(a[j] * h + b[j]))
        out[p, :] = acc


@njit(cache=True)
def shingle_hashes(data, bounds, k, kind, mapped, extra):  # type: ignore[no-untyped-def]
    """Normalised text and sorted distinct shingle hashes of every paragraph.

    Returns (text, text_offsets, values, value_offsets): paragraph p's
    normalised UTF-8 is ``text[text_offsets[p]:text_offsets[p + 1]]`` and its
    shingle hashes are ``values[value_offsets[p]:value_offsets[p + 1]]``.
    """
    n = bounds.shape[0] - 1
    ascii_map = ascii_table(kind, mapped)
    text = np.zeros(BYTES_PER_INPUT_BYTE * data.shape[0] + PADDING, dtype=np.uint8)
    starts = np.empty(BYTES_PER_INPUT_BYTE * data.shape[0] + PADDING, dtype=np.int64)
    values = np.empty(data.shape[0] + n, dtype=np.uint32)
    text_offsets = np.zeros(n + 1, dtype=np.int64)
    value_offsets = np.zeros(n + 1, dtype=np.int64)
    pos = 0
    tpos = 0
    for p in range(n):
        view = text[tpos:]
        length, ntok = normalise_one(
            data, bounds[p], bounds[p + 1] - 1, ascii_map, kind, mapped, extra, view, starts
        )
        first = pos
        for s in range(_shingle_count(ntok, k)):
            values[pos] = _shingle_hash(np.uint64(view.ctypes.data), starts, s, min(s + k, ntok))
            pos += 1
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
    return text[:tpos], text_offsets, values[:pos], value_offsets
