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
WORDS = "w"  # then the number of words a key sets bits in, when more than one
MIX = np.uint64(0x9E3779B1)  # odd: the second word's bits, from the suffix


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
    # Words a key sets ``hashes`` bits in: the second word's place comes from
    # a hash of the suffix. Two words of three bits pass ~1 % of absent keys
    # where one word passes ~2-3 % (simulated at 100,000 paragraphs, the same
    # filter size), and a cluster check reads a bucket for each key that
    # passes in each of its shards.
    words: int = 1

    @property
    def name(self) -> str:
        if self.hashes == 1:
            return str(self.bits)
        spread = f"{WORDS}{self.words}" if self.words > 1 else ""
        return f"{self.bits}x{self.hashes}{spread}" + (GENERATIONS if self.versioned else "")

    @classmethod
    def parse(cls, value: str | None) -> FilterFormat:
        """A root's ``filter`` field; None (an older root) is the legacy format."""
        text = value or LEGACY
        bits, _, rest = text.partition("x")
        versioned = rest.endswith(GENERATIONS)
        hashes, _, words = rest.removesuffix(GENERATIONS).partition(WORDS)
        try:
            found = cls(int(bits), int(hashes or 1), versioned, int(words or 1))
        except ValueError as exc:
            raise StoreError(f"unknown Redis filter format {text!r}") from exc
        found.validate()
        if found.name != text:  # one spelling per format ("11x3w1g" is not one)
            raise StoreError(f"unknown Redis filter format {text!r}")
        return found

    def validate(self) -> None:
        if self.hashes == 1:
            if self.bits != int(LEGACY) or self.versioned or self.words != 1:
                raise StoreError(f"unknown Redis filter format {self.name!r}")
            return
        if self.words not in (1, 2):
            raise StoreError(f"unknown Redis filter format {self.name!r}")
        # The word and the positions inside it come from the 24-bit suffix.
        most = SUFFIX_BITS - WORD_BITS * (self.hashes - 1)
        if not 2 <= self.hashes <= 4 or not MIN_BITS <= self.bits <= most:
            raise StoreError(
                f"filter_bits must be between {MIN_BITS} and {most} (with {self.hashes} bits a key), "
                f"not {self.bits}"
            )


DEFAULT_WORDS = 2
DEFAULT_FILTER = FilterFormat(DEFAULT_BITS, DEFAULT_HASHES, versioned=True, words=DEFAULT_WORDS)


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

    def _word_positions(self, heads: U64) -> list[tuple[U64, list[U64]]]:
        """Per word a head sets bits in: the word (its bucket's run of
        words, then the top bits of its suffix, or of the suffix mixed for
        the second word) and the bit positions inside it (the next bits)."""
        choose = self.bits - WORD_BITS
        low = np.uint64(WORD - 1)
        hashes = range(self.format.hashes)
        below = SUFFIX_BITS - choose
        out = [
            (
                heads >> np.uint64(below),
                [(heads >> np.uint64(below - WORD_BITS * (j + 1))) & low for j in hashes],
            )
        ]
        if self.format.words > 1:
            suffix = heads & np.uint64((1 << SUFFIX_BITS) - 1)
            mixed = (suffix * MIX) & np.uint64(0xFFFFFFFF)
            top = 32 - choose
            bucket = heads >> np.uint64(SUFFIX_BITS)
            word = (bucket << np.uint64(choose)) | (mixed >> np.uint64(top))
            out.append((word, [(mixed >> np.uint64(top - WORD_BITS * (j + 1))) & low for j in hashes]))
        return out

    def offsets(self, heads: U64) -> U64:
        """Every bit the records of these heads set (repeats included)."""
        if not self.blocked:
            return heads >> np.uint64(SUFFIX_BITS - self.bits)
        return np.concatenate(
            [w * np.uint64(WORD) + p for w, positions in self._word_positions(heads) for p in positions]
        )

    def tests(self, heads: U64) -> tuple[list[bytes | str | int], bytes]:
        """BITFIELD_RO's arguments for each word of each head (GET <type>
        <offset>), and each word's mask (4 bytes): a head passes when every
        one of its words has value & mask == mask."""
        offsets, kind, masks = self.packed_tests(heads)
        return [x for o in np.frombuffer(offsets, ">u4").tolist() for x in ("GET", kind, o)], masks

    def packed_tests(self, heads: U64) -> tuple[bytes, str, bytes]:
        """The same tests packed, as the check script takes them: each
        head's words' bit offsets (4 bytes each: a shard's filter has at
        most 2**32 bits), the BITFIELD type, each word's mask (a head's
        words follow each other)."""
        if not self.blocked:
            return self.offsets(heads).astype(">u4").tobytes(), "u1", np.ones(heads.size, ">u4").tobytes()
        found = self._word_positions(heads)
        offsets = np.empty((heads.size, len(found)), ">u4")
        masks = np.empty((heads.size, len(found)), ">u4")
        for n, (word, positions) in enumerate(found):
            mask = np.zeros(heads.size, np.uint64)
            for p in positions:
                # BITFIELD reads a word from its top bit: position 0 is bit 31.
                mask |= np.uint64(1) << (np.uint64(WORD - 1) - p)
            offsets[:, n] = word * np.uint64(WORD)
            masks[:, n] = mask
        return offsets.tobytes(), "u32", masks.tobytes()

    @property
    def name(self) -> str:
        return self.format.name
