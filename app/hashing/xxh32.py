"""xxHash32 compiled with numba, so shingles are hashed inside the MinHash kernel.

The reference implementation is the `xxhash` package; tests prove both agree
byte for byte, which keeps signatures reproducible with datasketch and
`xxhash.xxh32_intdigest` as its hash function.

Written for short inputs of varying length (shingles, 10-40 bytes):

- the kernel hashes from a raw address: every numba call or inlined body
  that receives an array updates its reference count atomically, which
  cost more than the hash;
- input is read 4 bytes at a time with unaligned loads;
- no branch depends on the length: each possible tail step is computed and
  the right result kept with a mask, because a mispredicted branch costs as
  much as the whole hash. So it reads up to OVERREAD bytes past the end of
  its input, which callers must keep readable.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from app.hashing.memory import load32

_P1 = np.uint64(0x9E3779B1)
_P2 = np.uint64(0x85EBCA77)
_P3 = np.uint64(0xC2B2AE3D)
_P4 = np.uint64(0x27D4EB2F)
_P5 = np.uint64(0x165667B1)
_MASK = np.uint64(0xFFFFFFFF)
OVERREAD = 16


@njit(cache=True, inline="always")
def _rotl(x: np.uint64, r: int) -> np.uint64:
    # 64-bit arithmetic masked to 32 bits: numba widens uint32 scalars anyway.
    x = x & _MASK
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _MASK


@njit(cache=True, inline="always")
def _pick(condition: bool | np.bool_, if_true: np.uint64, if_false: np.uint64) -> np.uint64:
    # Arithmetic, not `if`: numba's `if`/`else` becomes a branch or a jump table.
    mask = np.uint64(0) - np.uint64(condition)
    return if_false ^ ((if_true ^ if_false) & mask)


@njit(cache=True, inline="always")
def _round(acc: np.uint64, lane: np.uint64) -> np.uint64:
    return (_rotl(acc + lane * _P2, 13) * _P1) & _MASK


@njit(cache=True, inline="always")
def _stripe(
    v: tuple[np.uint64, np.uint64, np.uint64, np.uint64], at: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    return (
        _round(v[0], load32(at)),
        _round(v[1], load32(at + np.uint64(4))),
        _round(v[2], load32(at + np.uint64(8))),
        _round(v[3], load32(at + np.uint64(12))),
    )


@njit(cache=True, inline="always")
def xxh32_at(address: np.uint64, length: np.uint64, seed: np.uint64) -> np.uint64:
    """xxHash32 of ``length`` bytes from ``address``, as a uint64 < 2**32."""
    s = seed & _MASK
    stripes = length >> np.uint64(4)
    # The first 16-byte stripe is hashed whether or not there is one, and
    # its result kept only if there is, so short and long inputs take the
    # same path; only inputs of 32 bytes and more loop.
    v = _stripe(((s + _P1 + _P2) & _MASK, (s + _P2) & _MASK, s, (s - _P1) & _MASK), address)
    for stripe in range(1, stripes):
        v = _stripe(v, address + (np.uint64(stripe) << np.uint64(4)))
    merged = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _MASK
    h = (_pick(stripes > 0, merged, s + _P5) + length) & _MASK
    at = address + (stripes << np.uint64(4))
    words = (length >> np.uint64(2)) & np.uint64(3)
    for w in range(3):
        step = (_rotl(h + load32(at) * _P3, 17) * _P4) & _MASK
        h = _pick(w < words, step, h)
        at += np.uint64(4) * np.uint64(w < words)
    rest = load32(at)
    tail = length & np.uint64(3)
    for byte in range(3):
        step = (_rotl(h + ((rest >> np.uint64(8 * byte)) & np.uint64(0xFF)) * _P5, 11) * _P1) & _MASK
        h = _pick(byte < tail, step, h)
    h ^= h >> np.uint64(15)
    h = (h * _P2) & _MASK
    h ^= h >> np.uint64(13)
    h = (h * _P3) & _MASK
    h ^= h >> np.uint64(16)
    return h


@njit(cache=True)
def xxh32(data: np.ndarray, start: int, end: int, seed: int) -> np.uint64:
    """xxHash32 of ``data[start:end]`` (uint8 array), returned as a uint64 < 2**32.

    ``data`` must hold OVERREAD readable bytes after ``end``.
    """
    return xxh32_at(np.uint64(data.ctypes.data + start), np.uint64(end - start), np.uint64(seed))


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
    h ^= h >> np.uint32(15)
    h = np.uint32(h * _Q2)
    h ^= h >> np.uint32(13)
    h = np.uint32(h * _Q3)
    h ^= h >> np.uint32(16)
    return h
