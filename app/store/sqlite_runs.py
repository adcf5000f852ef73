"""Immutable sorted runs of index entries: files beside the SQLite database.

A run holds (key, ref) entries sorted by the key's code, its top
``CODE_BITS`` bits. A directory of ``2^dir_bits + 1`` offsets (u32) says where
each value of the code's top ``dir_bits`` bits starts, so the entries of a
code are found by one directory read and a binary search in a slot of ~32
entries, however large the run. Each entry packs the rest of the code (the
tag) and the ref's offset from the run's lowest ref into as few bytes as
they need (5 at one or ten million paragraphs, against 6 in a bucket row).

A code matches a foreign key with probability 2^-40 per entry: ``lookup``
may return a rare extra ref (~0.2 per 500-key lookup at 10M paragraphs), and
the caller verifies every candidate anyway.

Files are written under a temporary name, fsynced, then renamed by the
writer holding SQLite's write lock, in the transaction that lists them in
``runs``: a file is either listed and complete, or an orphan removed at the
next open.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.store.sqlite_kernels import decode, encode, lookup_codes, slot_sort

CODE_BITS = 40
CODE_SHIFT = np.uint64(64 - CODE_BITS)
MAGIC = b"PDRUN\x00\x01\x00"
HEADER = struct.Struct("<8sQIIQI")
HEADER_BYTES = 64
# Merges read and write runs a slice of the code space at a time: memory
# stays ~1/256 of the largest run.
CHUNK_BITS = 8
MIN_DIR_BITS = CHUNK_BITS
MAX_DIR_BITS = 26
SLOT_ENTRIES = 32
MAX_ENTRIES = (1 << 32) - 1  # directory offsets are u32

U64 = npt.NDArray[np.uint64]


class RunDamaged(Exception):
    """A run file is missing, truncated or not a run."""


def codes_of(keys: npt.NDArray[np.int64]) -> U64:
    return keys.view(np.uint64) >> CODE_SHIFT


def layout(entries: int, ref_lo: int, ref_hi: int) -> tuple[int, int, int]:
    """(dir_bits, ref_bits, width) of a run of ``entries`` with refs in [lo, hi]."""
    dir_bits = max(MIN_DIR_BITS, min(MAX_DIR_BITS, (entries // SLOT_ENTRIES).bit_length()))
    ref_bits = max(1, (ref_hi - ref_lo).bit_length())
    width = -(-(CODE_BITS - dir_bits + ref_bits) // 8)
    return dir_bits, ref_bits, width


class RunWriter:
    """Writes a run from chunks of entries in code order."""

    def __init__(self, path: Path, max_entries: int, ref_lo: int, ref_hi: int) -> None:
        if max_entries > MAX_ENTRIES:
            raise ValueError("a run holds fewer than 2^32 entries")
        self.path = path
        self.dir_bits, self.ref_bits, self.width = layout(max_entries, ref_lo, ref_hi)
        self.ref_base = ref_lo
        self.counts = np.zeros(1 << self.dir_bits, dtype=np.uint32)
        self.entries = 0
        self._file = open(path, "wb")  # noqa: SIM115 - closed in finish/abort
        self._file.seek(HEADER_BYTES + 4 * ((1 << self.dir_bits) + 1))

    def add(self, codes: U64, refs: U64) -> None:
        if not codes.size:
            return
        out = np.empty(codes.size * self.width, dtype=np.uint8)
        encode(
            codes,
            refs,
            np.uint64(self.width),
            np.uint64(CODE_BITS - self.dir_bits),
            np.uint64(self.ref_bits),
            np.uint64(self.ref_base),
            out,
            self.counts,
            np.uint64(0),
        )
        self._file.write(out.data)
        self.entries += codes.size

    def sorted_chunk(self, index: int, codes: U64, refs: U64) -> tuple[U64, U64]:
        """The entries of the ``index``-th slice of the code space, sorted."""
        out_codes = np.empty_like(codes)
        out_refs = np.empty_like(refs)
        slots = 1 << (self.dir_bits - CHUNK_BITS)
        shift = np.uint64(CODE_BITS - self.dir_bits)
        slot_sort(codes, refs, shift, np.uint64(index * slots), slots, out_codes, out_refs)
        return out_codes, out_refs

    def sorted_all(self, codes: U64, refs: U64) -> tuple[U64, U64]:
        out_codes = np.empty_like(codes)
        out_refs = np.empty_like(refs)
        shift = np.uint64(CODE_BITS - self.dir_bits)
        slot_sort(codes, refs, shift, np.uint64(0), 1 << self.dir_bits, out_codes, out_refs)
        return out_codes, out_refs

    def finish(self) -> None:
        directory = np.zeros(self.counts.size + 1, dtype=np.uint32)
        np.cumsum(self.counts, out=directory[1:])
        header = HEADER.pack(MAGIC, self.entries, self.dir_bits, self.ref_bits, self.ref_base, self.width)
        self._file.seek(0)
        self._file.write(header.ljust(HEADER_BYTES, b"\0"))
        self._file.write(directory.data)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def abort(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


def write_run(path: Path, keys: npt.NDArray[np.int64], refs: U64) -> int:
    """A run of unsorted entries small enough to sort at once; its size."""
    codes = codes_of(keys)
    writer = RunWriter(path, codes.size, int(refs.min()), int(refs.max()))
    try:
        writer.add(*writer.sorted_all(codes, refs))
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    return writer.entries


class RunFile:
    """A run opened read-only through a memory map (the OS page cache,
    shared by every process that maps it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < HEADER_BYTES:
                    raise RunDamaged(f"{path}: {size} bytes, shorter than a run header")
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError as exc:
            raise RunDamaged(f"{path}: no such run file") from exc
        magic, entries, dir_bits, ref_bits, ref_base, width = HEADER.unpack_from(self._map)
        expected = HEADER_BYTES + 4 * ((1 << dir_bits) + 1) + entries * width if magic == MAGIC else -1
        if magic != MAGIC or size != expected or not 0 < width <= 8:
            raise RunDamaged(f"{path}: not a complete run file ({size} bytes)")
        self.entries = int(entries)
        self.dir_bits = int(dir_bits)
        self.tag_bits = np.uint64(CODE_BITS - dir_bits)
        self.ref_bits = np.uint64(ref_bits)
        self.ref_base = np.uint64(ref_base)
        self.width = np.uint64(width)
        buffer = np.frombuffer(self._map, dtype=np.uint8)
        self.directory = buffer[HEADER_BYTES : HEADER_BYTES + 4 * ((1 << dir_bits) + 1)].view(np.uint32)
        self.data = buffer[HEADER_BYTES + 4 * ((1 << dir_bits) + 1) :]

    @property
    def pages(self) -> mmap.mmap:
        """The run's memory map (``resident`` locks it)."""
        return self._map

    def lookup(self, codes: U64) -> tuple[U64, U64]:
        """(index into ``codes``, ref) of every entry of ``codes``."""
        owners, refs = lookup_codes(
            self.directory, self.data, self.width, self.tag_bits, self.ref_bits, self.ref_base, codes
        )
        return owners, refs

    def chunk(self, index: int) -> tuple[U64, U64]:
        """Codes and refs of the ``index``-th of 2^CHUNK_BITS slices of the code space."""
        shift = self.dir_bits - CHUNK_BITS
        first, end = index << shift, (index + 1) << shift
        count = int(self.directory[end]) - int(self.directory[first])
        codes = np.empty(count, dtype=np.uint64)
        refs = np.empty(count, dtype=np.uint64)
        decode(
            self.directory,
            self.data,
            self.width,
            self.tag_bits,
            self.ref_bits,
            self.ref_base,
            np.uint64(first),
            np.uint64(end),
            codes,
            refs,
        )
        return codes, refs

    def check(self) -> None:
        """Raises RunDamaged unless the directory is monotonic and complete."""
        if int(self.directory[0]) != 0 or int(self.directory[-1]) != self.entries:
            raise RunDamaged(f"{self.path}: the directory does not cover the {self.entries} entries")
        if np.any(self.directory[1:] < self.directory[:-1]):
            raise RunDamaged(f"{self.path}: the directory is not in order")


class DeadRefs:
    """Ref ranges [first, end) of forgotten paragraphs whose entries may
    still sit in runs or segments: filtered out of every lookup."""

    def __init__(self, ranges: Sequence[tuple[int, int]]) -> None:
        ordered = sorted(ranges)
        self.starts = np.array([r[0] for r in ordered], dtype=np.uint64)
        self.ends = np.array([r[1] for r in ordered], dtype=np.uint64)

    def __len__(self) -> int:
        return int(self.starts.size)

    def alive(self, refs: U64) -> npt.NDArray[np.bool_]:
        if not self.starts.size or not refs.size:
            return np.ones(refs.size, dtype=bool)
        at = np.searchsorted(self.starts, refs, side="right").astype(np.int64) - 1
        inside = (at >= 0) & (refs < self.ends[np.maximum(at, 0)])
        return np.asarray(~inside)


def merge(inputs: Sequence[RunFile], extra: tuple[U64, U64], dead: DeadRefs, writer: RunWriter) -> None:
    """Writes the entries of ``inputs`` and of ``extra`` (sorted codes, refs),
    minus dead refs, in code order: one slice of the code space at a time."""
    extra_codes, extra_refs = extra
    bounds = np.searchsorted(
        extra_codes, np.arange((1 << CHUNK_BITS) + 1, dtype=np.uint64) << np.uint64(CODE_BITS - CHUNK_BITS)
    )
    for index in range(1 << CHUNK_BITS):
        parts = [run.chunk(index) for run in inputs]
        lo, hi = bounds[index], bounds[index + 1]
        parts.append((extra_codes[lo:hi], extra_refs[lo:hi]))
        codes = np.concatenate([p[0] for p in parts])
        refs = np.concatenate([p[1] for p in parts])
        if len(dead):
            keep = dead.alive(refs)
            codes, refs = codes[keep], refs[keep]
        writer.add(*writer.sorted_chunk(index, codes, refs))


def run_files(directory: Path, stem: str) -> Iterator[Path]:
    """Every run file (and temporary one) of the database named ``stem``."""
    return directory.glob(f"{stem}.run-*")


def run_path(database: Path, run_id: int) -> Path:
    return database.with_name(f"{database.name}.run-{run_id:010d}")


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
