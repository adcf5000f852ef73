"""A shard's filter: which band keys a shard may hold, tested in C by one
``BITFIELD_RO`` per shard so that a check reads only the buckets of the keys
that pass (see redis_lua, ``f``).

Two formats, named by the ``filter`` field of the namespace's root key and
of each shard's meta:

- ``"10"`` (namespaces made before this format; a root without the field):
  2**10 bits per bucket, ONE bit per key. Its fill is keys / bits of the
  whole namespace whatever the shard count: ~16 % of absent keys passed in
  every shard at 100,000 paragraphs, and a cluster check, which asks every
  shard for every key, read 32 x that many buckets.
- ``"<bits>x<hashes>"`` (``"11x3"`` by default): 2**bits bits per bucket
  in 32-bit words; a key sets ``hashes`` bits of ONE word, so a test is
  still one ``GET u32`` and a mask comparison. At the same size the false
  positives fall by about half (simulated: 16.1 -> 8.6 % at 2**10 bits), and
  at 2**11 bits per bucket to ~2 % (3 bits of a word, 2.95M keys).

Bit positions are taken from the key's head (bucket and 24-bit suffix)
only, which the bucket records hold, so a filter can be rebuilt from a
shard's records. Every shard buckets alike, so one set of tests serves all
shards of a check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.store.base import StoreError

U64 = npt.NDArray[np.uint64]
SUFFIX_BITS = 24
WORD = 32
WORD_BITS = 5  # a position inside a word
LEGACY = "10"
DEFAULT_BITS = 11
DEFAULT_HASHES = 3
MIN_BITS = WORD_BITS + 1  # at least two words per bucket
GENERATIONS = "g"  # a format's suffix: its shards count their filter's changes


@dataclass(frozen=True)
class FilterFormat:
    bits: int  # log2 of the bits per bucket, before any clamp to a string's size
    hashes: int  # 1: the legacy one-bit format; else bits set in one 32-bit word
    # Whether every change of a shard's filter moves its meta's ``fgen``, so
    # that a client may test a copy of the filter (redis_filter_cache). The
    # name ends in "g": versions that do not keep ``fgen`` refuse to open
    # such a namespace (an unknown format) instead of writing bits that a
    # copy would never learn of.
    versioned: bool = False

    @property
    def name(self) -> str:
        if self.hashes == 1:
            return str(self.bits)
        return f"{self.bits}x{self.hashes}" + (GENERATIONS if self.versioned else "")

    @classmethod
    def parse(cls, value: str | None) -> FilterFormat:
        """A root's ``filter`` field; None (an older root) is the legacy format."""
        text = value or LEGACY
        bits, _, hashes = text.partition("x")
        versioned = hashes.endswith(GENERATIONS)
        try:
            found = cls(int(bits), int(hashes.removesuffix(GENERATIONS) or 1), versioned)
        except ValueError as exc:
            raise StoreError(f"unknown Redis filter format {text!r}") from exc
        found.validate()
        return found

    def validate(self) -> None:
        if self.hashes == 1:
            if self.bits != int(LEGACY) or self.versioned:
                raise StoreError(f"unknown Redis filter format {self.name!r}")
            return
        # The word and the positions inside it come from the 24-bit suffix.
        most = SUFFIX_BITS - WORD_BITS * (self.hashes - 1)
        if not 2 <= self.hashes <= 4 or not MIN_BITS <= self.bits <= most:
            raise StoreError(
                f"filter_bits must be between {MIN_BITS} and {most} (with {self.hashes} bits a key), "
                f"not {self.bits}"
            )


DEFAULT_FILTER = FilterFormat(DEFAULT_BITS, DEFAULT_HASHES, versioned=True)


class ShardFilter:
    """Bit offsets and tests of one namespace's shard filters (each shard
    has 2**shard_bits buckets)."""

    def __init__(self, fmt: FilterFormat, shard_bits: int) -> None:
        self.format = fmt
        # A Redis string holds at most 2**32 bits.
        self.bits = max(0, min(fmt.bits, 32 - shard_bits))
        self.size = (1 << (shard_bits + self.bits)) // 8  # bytes of a whole filter
        self.blocked = fmt.hashes > 1
        if self.blocked and self.bits < MIN_BITS:
            raise StoreError("too many buckets a shard for a blocked filter: lower bucket_bits")

    def _word_positions(self, heads: U64) -> tuple[U64, list[U64]]:
        """Each head's word (its bucket's run of words, then the top bits of
        its suffix) and its bit positions inside the word (the next bits)."""
        choose = self.bits - WORD_BITS
        word = heads >> np.uint64(SUFFIX_BITS - choose)
        below = SUFFIX_BITS - choose
        low = np.uint64(WORD - 1)
        shifts = [np.uint64(below - WORD_BITS * (j + 1)) for j in range(self.format.hashes)]
        positions = [(heads >> shift) & low for shift in shifts]
        return word, positions

    def offsets(self, heads: U64) -> U64:
        """Every bit the records of these heads set (repeats included)."""
        if not self.blocked:
            return heads >> np.uint64(SUFFIX_BITS - self.bits)
        word, positions = self._word_positions(heads)
        base = word * np.uint64(WORD)
        return np.concatenate([base + p for p in positions])

    def tests(self, heads: U64) -> tuple[list[bytes | str | int], bytes]:
        """BITFIELD_RO's arguments for each head (GET <type> <offset>), and
        each head's mask (4 bytes): it passes when value & mask == mask."""
        offsets, kind, masks = self.packed_tests(heads)
        return [x for o in np.frombuffer(offsets, ">u4").tolist() for x in ("GET", kind, o)], masks

    def packed_tests(self, heads: U64) -> tuple[bytes, str, bytes]:
        """The same tests packed, as the check script takes them: each head's
        bit offset (4 bytes: a shard's filter has at most 2**32 bits), the
        BITFIELD type, each head's mask."""
        if not self.blocked:
            return self.offsets(heads).astype(">u4").tobytes(), "u1", np.ones(heads.size, ">u4").tobytes()
        word, positions = self._word_positions(heads)
        mask = np.zeros(heads.size, np.uint64)
        for p in positions:
            # BITFIELD reads a word from its top bit: position 0 is bit 31.
            mask |= np.uint64(1) << (np.uint64(WORD - 1) - p)
        return (word * np.uint64(WORD)).astype(">u4").tobytes(), "u32", mask.astype(">u4").tobytes()

    @property
    def name(self) -> str:
        return self.format.name
