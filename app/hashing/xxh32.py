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

from collections.abc import Callable
from typing import cast

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

_P1 = np.uint64(0x9E3779B1)
_P2 = np.uint64(0x85EBCA77)
_P3 = np.uint64(0xC2B2AE3D)
_P4 = np.uint64(0x27D4EB2F)
_P5 = np.uint64(0x165667B1)
_MASK = np.uint64(0xFFFFFFFF)
OVERREAD = 16


@intrinsic
def _load32(typingctx, address):  # type: ignore[no-untyped-def]
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        pointer = builder.inttoptr(args[0], context.get_value_type(types.uint32).as_pointer())
        return builder.zext(builder.load(pointer, align=1), context.get_value_type(types.uint64))

    return sig, codegen


# The little-endian uint32 at any byte address, zero-extended to uint64.
load32 = cast(Callable[[np.uint64], np.uint64], _load32)


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
