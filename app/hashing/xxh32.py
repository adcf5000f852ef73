"""xxHash32 compiled with numba, so shingles are hashed inside the MinHash kernel.

The reference implementation is the `xxhash` package; tests prove both agree
byte for byte, which keeps signatures reproducible with datasketch and
`xxhash.xxh32_intdigest` as its hash function.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_P1 = np.uint64(0x9E3779B1)
_P2 = np.uint64(0x85EBCA77)
_P3 = np.uint64(0xC2B2AE3D)
_P4 = np.uint64(0x27D4EB2F)
_P5 = np.uint64(0x165667B1)
_MASK = np.uint64(0xFFFFFFFF)


@njit(cache=True, inline="always")
def _rotl(x: np.uint64, r: int) -> np.uint64:
    # 64-bit arithmetic masked to 32 bits: numba widens uint32 scalars anyway.
    x = x & _MASK
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _MASK


@njit(cache=True, inline="always")
def _read32(data: np.ndarray, i: int) -> np.uint64:
    return (
        np.uint64(data[i])
        | (np.uint64(data[i + 1]) << np.uint64(8))
        | (np.uint64(data[i + 2]) << np.uint64(16))
        | (np.uint64(data[i + 3]) << np.uint64(24))
    )


@njit(cache=True, inline="always")
def _round(acc: np.uint64, lane: np.uint64) -> np.uint64:
    acc = (acc + lane * _P2) & _MASK
    return (_rotl(acc, 13) * _P1) & _MASK


@njit(cache=True, inline="always")
def xxh32(data: np.ndarray, start: int, end: int, seed: int) -> np.uint64:
    """xxHash32 of ``data[start:end]`` (uint8 array), returned as a uint64 < 2**32."""
    length = end - start
    i = start
    s = np.uint64(seed) & _MASK
    if length >= 16:
        v1 = (s + _P1 + _P2) & _MASK
        v2 = (s + _P2) & _MASK
        v3 = s
        v4 = (s - _P1) & _MASK
        limit = end - 16
        while i <= limit:
            v1 = _round(v1, _read32(data, i))
            v2 = _round(v2, _read32(data, i + 4))
            v3 = _round(v3, _read32(data, i + 8))
            v4 = _round(v4, _read32(data, i + 12))
            i += 16
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _MASK
    else:
        h = (s + _P5) & _MASK
    h = (h + np.uint64(length)) & _MASK
    while i + 4 <= end:
        h = (h + _read32(data, i) * _P3) & _MASK
        h = (_rotl(h, 17) * _P4) & _MASK
        i += 4
    while i < end:
        h = (h + np.uint64(data[i]) * _P5) & _MASK
        h = (_rotl(h, 11) * _P1) & _MASK
        i += 1
    h ^= h >> np.uint64(15)
    h = (h * _P2) & _MASK
    h ^= h >> np.uint64(13)
    h = (h * _P3) & _MASK
    h ^= h >> np.uint64(16)
    return h
