"""xxHash32 compiled with numba, so shingles are hashed inside the MinHash kernel.

The reference implementation is the `xxhash` package; tests prove both agree
byte for byte, which keeps signatures reproducible with datasketch and
`xxhash.xxh32_intdigest` as its hash function.

Shingles are short (10-40 bytes) and hashed in the kernel's loops:

- from a raw address: every numba call or inlined body that receives an
  array updates its reference count atomically, which cost more than the
  hash;
- 4 bytes at a time with unaligned loads, on 32-bit values;
- eight at a time (``xxh32_lane``): every step computed for every input and
  the right result kept by selection, so that the loop compiles to SIMD
  code. ``xxh32_at`` hashes one input of any length, for the rare shingle
  too long for the lanes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from app.hashing.memory import load32

# xxh32_at reads single bytes with 4-byte loads: callers keep this many
# bytes readable past the end of the input.
OVERREAD = 3


# Inputs shorter than this are hashed eight at a time (see xxh32_lane).
LANE_BYTES = 48
_Q1 = np.uint32(0x9E3779B1)
_Q2 = np.uint32(0x85EBCA77)
_Q3 = np.uint32(0xC2B2AE3D)
_Q4 = np.uint32(0x27D4EB2F)
_Q5 = np.uint32(0x165667B1)


@njit(cache=True, inline="always")
def _rotl32(x: np.uint32, r: int) -> np.uint32:
    return np.uint32((x << np.uint32(r)) | (x >> np.uint32(32 - r)))


@njit(cache=True, inline="always")
def _select(condition: bool, if_true: np.uint32, if_false: np.uint32) -> np.uint32:
    return if_true if condition else if_false


@njit(cache=True, inline="always")
def _word_step(h: np.uint32, word: np.uint32) -> np.uint32:
    return np.uint32(_rotl32(np.uint32(h + np.uint32(word * _Q3)), 17) * _Q4)


@njit(cache=True, inline="always")
def _byte_step(h: np.uint32, byte: np.uint32) -> np.uint32:
    return np.uint32(_rotl32(np.uint32(h + np.uint32(byte * _Q5)), 11) * _Q1)


@njit(cache=True, inline="always")
def _lane_round(acc: np.uint32, word: np.uint32) -> np.uint32:
    return np.uint32(_rotl32(np.uint32(acc + np.uint32(word * _Q2)), 13) * _Q1)


@njit(cache=True, inline="always")
def _avalanche(h: np.uint32) -> np.uint32:
    h ^= h >> np.uint32(15)
    h = np.uint32(h * _Q2)
    h ^= h >> np.uint32(13)
    h = np.uint32(h * _Q3)
    h ^= h >> np.uint32(16)
    return h


@njit(cache=True, inline="always")
def xxh32_lane(words: np.ndarray, lengths: np.ndarray, i: int, stripes: int) -> np.uint32:
    """xxHash32 (seed 0) of input ``i``, shorter than ``16 * (stripes + 1)``
    bytes (``stripes`` at most 2), given as its first bytes in little-endian
    words ``words[0 : 4 * (stripes + 1), i]`` (bytes past its end are ignored,
    and so are the other words) and its length ``lengths[i]``.

    ``stripes`` is best a constant in the caller's loop: the steps for
    longer inputs are then compiled out.

    Every input takes the same steps on 32-bit values and keeps the right
    result by selection, and the words of consecutive inputs are adjacent,
    so a loop over ``i`` compiles to SIMD code hashing eight at a time:
    about six times the rate of ``xxh32_at`` on shingle-sized input.
    """
    length = lengths[i]
    # Every word is loaded and every step computed, then kept or not by
    # _select: a load or a computation under a condition (even a conditional
    # expression written here) keeps the loop from compiling to SIMD code.
    w0, w1, w2, w3 = words[0, i], words[1, i], words[2, i], words[3, i]
    w4, w5, w6, w7 = words[4, i], words[5, i], words[6, i], words[7, i]
    w8, w9, w10, w11 = words[8, i], words[9, i], words[10, i], words[11, i]
    # Up to two 16-byte stripes.
    v0 = _lane_round(np.uint32(_Q1 + _Q2), w0)
    v1 = _lane_round(_Q2, w1)
    v2 = _lane_round(np.uint32(0), w2)
    v3 = _lane_round(np.uint32(np.uint32(0) - _Q1), w3)
    first = (stripes >= 1) & (length >= np.uint32(16))
    second = (stripes >= 2) & (length >= np.uint32(32))
    v0 = _select(second, _lane_round(v0, w4), v0)
    v1 = _select(second, _lane_round(v1, w5), v1)
    v2 = _select(second, _lane_round(v2, w6), v2)
    v3 = _select(second, _lane_round(v3, w7), v3)
    merged = np.uint32(_rotl32(v0, 1) + _rotl32(v1, 7) + _rotl32(v2, 12) + _rotl32(v3, 18))
    h = np.uint32(_select(first, merged, _Q5) + length)
    # The words after the stripes.
    x0 = _select(second, w8, _select(first, w4, w0))
    x1 = _select(second, w9, _select(first, w5, w1))
    x2 = _select(second, w10, _select(first, w6, w2))
    x3 = _select(second, w11, _select(first, w7, w3))
    whole = (length >> np.uint32(2)) & np.uint32(3)
    h = _select(whole > 0, _word_step(h, x0), h)
    h = _select(whole > 1, _word_step(h, x1), h)
    h = _select(whole > 2, _word_step(h, x2), h)
    rest = _select(whole == 0, x0, _select(whole == 1, x1, _select(whole == 2, x2, x3)))
    tail = length & np.uint32(3)
    h = _select(tail > 0, _byte_step(h, rest & np.uint32(0xFF)), h)
    h = _select(tail > 1, _byte_step(h, (rest >> np.uint32(8)) & np.uint32(0xFF)), h)
    h = _select(tail > 2, _byte_step(h, (rest >> np.uint32(16)) & np.uint32(0xFF)), h)
    return _avalanche(h)


@njit(cache=True, inline="always")
def xxh32_at(address: np.uint64, length: np.uint64, seed: np.uint64) -> np.uint32:
    """xxHash32 of ``length`` bytes from ``address``."""
    s = np.uint32(seed)
    at = address
    end = address + length
    if length >= np.uint64(16):
        v0, v1 = np.uint32(s + np.uint32(_Q1 + _Q2)), np.uint32(s + _Q2)
        v2, v3 = s, np.uint32(s - _Q1)
        while at + np.uint64(16) <= end:
            v0 = _lane_round(v0, np.uint32(load32(at)))
            v1 = _lane_round(v1, np.uint32(load32(at + np.uint64(4))))
            v2 = _lane_round(v2, np.uint32(load32(at + np.uint64(8))))
            v3 = _lane_round(v3, np.uint32(load32(at + np.uint64(12))))
            at += np.uint64(16)
        h = np.uint32(_rotl32(v0, 1) + _rotl32(v1, 7) + _rotl32(v2, 12) + _rotl32(v3, 18))
    else:
        h = np.uint32(s + _Q5)
    h = np.uint32(h + np.uint32(length))
    while at + np.uint64(4) <= end:
        h = _word_step(h, np.uint32(load32(at)))
        at += np.uint64(4)
    while at < end:
        h = _byte_step(h, np.uint32(load32(at)) & np.uint32(0xFF))
        at += np.uint64(1)
    return _avalanche(h)
