"""Compiled loops over a sorted run's packed entries (see ``sqlite_runs``).

An entry is a little-endian integer of ``width`` bytes: the key code's bits
below the run's directory prefix (the tag), then ``ref_bits`` of ref offset.
Entries are sorted, so the entries of one code are consecutive within its
directory slot and a binary search finds them. A lookup of ~500 codes is a
few microseconds per run here, against ~10 numpy calls per run otherwise.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt
from numba import njit

U64 = npt.NDArray[np.uint64]
A = TypeVar("A", bound=npt.NDArray[np.generic])


@njit(cache=True, inline="always")
def _entry(data: npt.NDArray[np.uint8], position: np.uint64, width: np.uint64) -> np.uint64:
    value = np.uint64(0)
    at = position * width
    for j in range(width):
        value |= np.uint64(data[at + np.uint64(j)]) << np.uint64(8 * j)
    return value


@njit(cache=True, nogil=True)
def lookup_codes(
    directory: npt.NDArray[np.uint32],
    data: npt.NDArray[np.uint8],
    width: np.uint64,
    tag_bits: np.uint64,
    ref_bits: np.uint64,
    ref_base: np.uint64,
    codes: U64,
) -> tuple[U64, U64]:
    """(index into ``codes``, ref) of every entry of each code. One kernel
    for the whole lookup: each cached kernel costs start-up time to load."""
    tag_mask = (np.uint64(1) << tag_bits) - np.uint64(1)
    ref_mask = (np.uint64(1) << ref_bits) - np.uint64(1)
    starts = np.empty(codes.size, dtype=np.uint64)
    ends = np.empty(codes.size, dtype=np.uint64)
    # Two passes: the directory reads of all codes first, independent of
    # each other so that the CPU overlaps their cache misses (a run at 10M
    # paragraphs is ~1 GB: nearly every read misses), then a scan of each
    # slot (~32 entries, a few consecutive cache lines) instead of a binary
    # search whose every step waits on the previous one.
    for i in range(codes.size):
        slot = codes[i] >> tag_bits
        starts[i] = directory[slot]
        ends[i] = directory[slot + np.uint64(1)]
    # Then one load of every cache line of each slot, independent of each
    # other too: the CPU fetches the slots' lines together (the scan's loads
    # each wait on its own branches, so it overlapped few misses), and the
    # scan finds them in the cache. 1M paragraphs, a check's ~420 codes:
    # 0.17-0.22 -> 0.10-0.13 ms (benchmarks/RESULTS.md, "Lookups that fetch
    # their lines first").
    touched = np.uint64(0)
    for i in range(codes.size):
        if ends[i] > starts[i]:
            last = ends[i] * width - np.uint64(1)
            for at in range(starts[i] * width, last, 64):
                touched += np.uint64(data[at])
            touched += np.uint64(data[last])
    total = 0
    for i in range(codes.size):
        tag = codes[i] & tag_mask
        lo = starts[i]
        end = ends[i]
        while lo < end and (_entry(data, lo, width) >> ref_bits) < tag:
            lo += np.uint64(1)
        stop = lo
        while stop < end and (_entry(data, stop, width) >> ref_bits) == tag:
            stop += np.uint64(1)
        starts[i] = lo
        ends[i] = stop
        total += int(stop - lo)
    # One element more, holding the bytes touched: stored, they are read.
    owners = np.empty(total + 1, dtype=np.uint64)
    refs = np.empty(total, dtype=np.uint64)
    n = 0
    for i in range(codes.size):
        for position in range(starts[i], ends[i]):
            owners[n] = i
            refs[n] = (_entry(data, np.uint64(position), width) & ref_mask) + ref_base
            n += 1
    owners[total] = touched
    return owners[:total], refs


@njit(cache=True, nogil=True)
def decode(
    directory: npt.NDArray[np.uint32],
    data: npt.NDArray[np.uint8],
    width: np.uint64,
    tag_bits: np.uint64,
    ref_bits: np.uint64,
    ref_base: np.uint64,
    first_slot: np.uint64,
    end_slot: np.uint64,
    codes: U64,
    refs: U64,
) -> None:
    """Codes and refs of the entries of slots [first_slot, end_slot)."""
    ref_mask = (np.uint64(1) << ref_bits) - np.uint64(1)
    n = 0
    for slot in range(first_slot, end_slot):
        high = np.uint64(slot) << tag_bits
        for position in range(directory[slot], directory[slot + 1]):
            value = _entry(data, np.uint64(position), width)
            codes[n] = high | (value >> ref_bits)
            refs[n] = (value & ref_mask) + ref_base
            n += 1


@njit(cache=True, nogil=True)
def encode(
    codes: U64,
    refs: U64,
    width: np.uint64,
    tag_bits: np.uint64,
    ref_bits: np.uint64,
    ref_base: np.uint64,
    out: npt.NDArray[np.uint8],
    counts: npt.NDArray[np.uint32],
    first_slot: np.uint64,
) -> None:
    """Packs sorted (code, ref) entries; counts the entries of each slot
    (``counts[0]`` is ``first_slot``)."""
    tag_mask = (np.uint64(1) << tag_bits) - np.uint64(1)
    for i in range(codes.size):
        code = codes[i]
        counts[(code >> tag_bits) - first_slot] += 1
        value = ((code & tag_mask) << ref_bits) | (refs[i] - ref_base)
        at = np.uint64(i) * width
        for j in range(width):
            out[at + np.uint64(j)] = np.uint8((value >> np.uint64(8 * j)) & np.uint64(0xFF))


@njit(cache=True, nogil=True)
def slot_sort(
    codes: U64, refs: U64, shift: np.uint64, first_slot: np.uint64, slots: int, out_codes: U64, out_refs: U64
) -> None:
    """Sorts entries by code: a counting sort on the slot (``code >> shift``,
    from ``first_slot``), then an insertion sort within each slot of ~32
    entries. Linear, where a comparison merge of random codes mispredicts
    a branch per entry."""
    starts = np.zeros(slots + 1, dtype=np.int64)
    for i in range(codes.size):
        starts[(codes[i] >> shift) - first_slot + np.uint64(1)] += 1
    for s in range(slots):
        starts[s + 1] += starts[s]
    fill = starts[:-1].copy()
    for i in range(codes.size):
        s = (codes[i] >> shift) - first_slot
        at = fill[s]
        out_codes[at] = codes[i]
        out_refs[at] = refs[i]
        fill[s] = at + 1
    for s in range(slots):
        for i in range(starts[s] + 1, starts[s + 1]):
            code = out_codes[i]
            ref = out_refs[i]
            j = i - 1
            while j >= starts[s] and out_codes[j] > code:
                out_codes[j + 1] = out_codes[j]
                out_refs[j + 1] = out_refs[j]
                j -= 1
            out_codes[j + 1] = code
            out_refs[j + 1] = ref


def _readonly(array: A) -> A:
    array.setflags(write=False)  # as a memory-mapped run's arrays: the same compiled signature
    return array


def warm_up_lookup() -> None:
    """Loads the lookup kernel (compiled into numba's cache on the first
    run) at open, so that no check waits for it."""
    one = np.uint64(1)
    directory = _readonly(np.zeros(2, dtype=np.uint32))
    data = _readonly(np.zeros(8, dtype=np.uint8))
    lookup_codes(directory, data, one, one, one, np.uint64(0), np.zeros(1, dtype=np.uint64))


@njit(cache=True, nogil=True)
def touch_pages(data: npt.NDArray[np.uint8]) -> np.uint64:
    """Reads a byte of every 4 KiB page: maps a run's pages into the
    process (in a background thread, without the GIL), so that lookups do
    not each take page faults first. The pages are the shared page cache,
    not private memory."""
    total = np.uint64(0)
    for i in range(0, data.size, 4096):
        total += np.uint64(data[i])
    return total
