"""Where a sharded Redis namespace keeps things, and how band keys and refs
are packed into bytes (the scripts that read them are in ``redis_lua``).

A namespace has ``shards`` logical shards (a power of two, fixed when it is
created). Shard ``i`` keeps its keys under ``paradup:{<tag i>}:``: the tag
is a hash tag, so each shard is one cluster slot and every script on it is
one atomic step on one master. Tags are chosen so that their slots are
spread evenly over the 16384 slots (shard ``i`` in the ``i``-th equal
range): a cluster whose masters hold equal slot ranges then holds equal
numbers of shards. A document lives wholly in the shard its id hashes to.

A ref, as the store contract hands it out, is ``shard << 32 | local``; a
local ref is ``seq << 12 | paragraph index`` (4 bytes in a bucket record),
``seq`` being the document's number inside its shard.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from app.store.base import Keys, LazyJson, StoredParagraph, StoreUnavailable
from app.store.redis_filter import FilterFormat, ShardFilter

INDEX_BITS = 12
MAX_PARAGRAPHS = 1 << INDEX_BITS
SEQ_BITS = 20
MAX_SEQ = 1 << SEQ_BITS  # document numbers of one shard (numbers lost to retries included)
REF = 4  # bytes of a local ref in a record
SUFFIX = 3  # bytes of a band key kept in a record, after its bucket
RECORD = SUFFIX + REF
HEAD = 3 + SUFFIX  # a query: bucket (3 bytes) + suffix
HEADER = 11  # of a bucket's changes in APPLY: bucket, removed count, added count
# Below this many bits set per filter byte, a write sets its bits one by one
# (SETBIT); above, it ORs in a bitmap the size of the filter (BITOP).
SPARSE_FILTER = 1 / 256

U64 = npt.NDArray[np.uint64]


LOCAL_REFS = (1 << 32) - 1  # a ref's local part


def unpack_refs(packed: bytes, shard: int) -> list[int]:
    """The refs of one shard's concatenated local refs."""
    return _with_shard(struct.unpack(f">{len(packed) // REF}I", packed), shard)


def _with_shard(local: tuple[int, ...], shard: int) -> list[int]:
    if not shard:
        return list(local)
    base = shard << 32
    return [base | ref for ref in local]


_HEAD = np.dtype([("index", ">u4"), ("count", ">u2")])


def unpack_hits(heads: bytes, refs: bytes, shard: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint64]]:
    """A shard's hits (see redis_lua_reads.CANDIDATES) as arrays: per ref
    found, the index of its query and the ref. Heads and refs are each read
    in one numpy call (a check has hundreds of hits)."""
    head = np.frombuffer(heads, _HEAD)
    found = np.frombuffer(refs, ">u4").astype(np.uint64)
    if shard:
        found |= np.uint64(shard) << np.uint64(32)
    return np.repeat(head["index"].astype(np.intp), head["count"].astype(np.intp)), found


# A document's state, as STATE finds it: None (absent), (seq, None) (the
# digest asked for), (seq, its stored list).
State = tuple[str, list[bytes] | None] | None


def unpack_state(items: Sequence[Any], namespace: str) -> list[State | int]:
    """STATE's answer for one shard (an int: a number reserved)."""
    found: list[State | int] = []
    for item in items:
        if isinstance(item, int):
            found.append(item)
        elif not item:
            found.append(None)
        else:
            seq = item[0].decode() if isinstance(item[0], bytes) else str(item[0])
            stored = item[1] if isinstance(item[1], list) else None
            if stored is not None and len(stored) < 3:
                # Its id is there but not its list (id, digest, metadata...):
                # no script leaves that state, so never read it as a document.
                raise StoreUnavailable(
                    f"a document of namespace {namespace!r} read incomplete "
                    "(a slot move or failover under way?): retry"
                )
            found.append((seq, stored))
    return found


def stored_paragraphs(shard: int, raw: Sequence[Any], start: int) -> Iterator[tuple[int, StoredParagraph]]:
    """Paragraphs from the (local ref, id, text, metadata) quadruples of one
    shard's answer, from ``start`` on (a paragraph gone is skipped)."""
    metadata: dict[bytes, LazyJson] = {}
    base = shard << 32
    for n in range(start, len(raw), 4):
        ref, doc_id, text, meta = raw[n : n + 4]
        if doc_id is None:
            continue
        if meta is not None:
            # Sent with the document's first ref only (see redis_lua_reads.READ).
            metadata[doc_id] = LazyJson(meta)
        if text is not None:
            local = int.from_bytes(ref, "big")
            meta_of = metadata.setdefault(doc_id, LazyJson(b""))
            index = local & (MAX_PARAGRAPHS - 1)
            yield base | local, StoredParagraph(base | local, doc_id.decode(), index, text.decode(), meta_of)


def shard_of(document_id: str, shards: int) -> int:
    """Stable over processes and versions (never Python's ``hash``)."""
    digest = hashlib.blake2b(document_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (shards - 1)


@lru_cache(maxsize=64)
def shard_tags(namespace: str, shards: int) -> tuple[str, ...]:
    """One hash tag per shard, shard ``i``'s slot in the ``i``-th of
    ``shards`` equal slot ranges (a few dozen CRC16s per shard)."""
    tags = []
    for i in range(shards):
        low = i * REDIS_CLUSTER_HASH_SLOTS // shards
        high = (i + 1) * REDIS_CLUSTER_HASH_SLOTS // shards
        n = 0
        while True:
            tag = f"{namespace}/{i}" if n == 0 else f"{namespace}/{i}.{n}"
            if low <= key_slot(tag.encode()) < high:
                break
            n += 1
        tags.append(tag)
    return tuple(tags)


def _as_bytes(column: U64, width: int) -> npt.NDArray[np.uint8]:
    """Big-endian bytes of each value, keeping the low ``width`` bytes."""
    return column.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - width :]


def local_refs(seq: int, keys: Sequence[Keys]) -> tuple[Keys, U64]:
    """Every (band key, local ref) of one document's paragraphs."""
    flat = [k for k in keys if k.size]
    if not flat:
        return np.empty(0, np.int64), np.empty(0, np.uint64)
    # One repeat for the document, not an array per paragraph: a batch has
    # thousands of paragraphs.
    sizes = np.fromiter((k.size for k in keys), np.int64, len(keys))
    base = np.uint64(seq << INDEX_BITS)
    refs = np.repeat(np.arange(len(keys), dtype=np.uint64) + base, sizes)
    return np.concatenate(flat), refs


class Layout:
    """Key names of one namespace's shards and the packing of band keys."""

    def __init__(
        self, namespace: str, shards: int, bucket_bits: int, filter_format: FilterFormat | None = None
    ) -> None:
        self.namespace = namespace
        self.shards = shards
        self.bits = bucket_bits  # of the whole namespace: each shard has 2**bits / shards buckets
        self.shard_bits = bucket_bits - (shards.bit_length() - 1)
        # The namespace's own key (its shard count), in the slot of the
        # namespace's name; the one-slot layout's keys were there too.
        self.old_root = f"paradup:{{{namespace}}}:layout".encode()
        # A namespace made with the blocked filter has its root under another
        # name: a replica of an older version finds no namespace there (and
        # says so) instead of writing records whose filter bits it cannot set.
        self.root = f"paradup:{{{namespace}}}:layout:v2".encode()
        self.old_meta = f"paradup:{{{namespace}}}:meta".encode()
        self.prefixes = [f"paradup:{{{tag}}}:".encode() for tag in shard_tags(namespace, shards)]
        self.filter = ShardFilter(filter_format or FilterFormat.parse(None), self.shard_bits)
        self.metas = [p + b"meta" for p in self.prefixes]

    def fixed_keys(self) -> list[bytes]:
        """The keys an empty namespace holds."""
        return sorted([self.root, *self.metas])

    def _heads(self, keys: Keys) -> U64:
        """Bucket (high bits) and suffix (low 24 bits) of each band key, as integers."""
        u = keys.astype(np.int64).view(np.uint64)
        bits = self.shard_bits
        bucket = u >> np.uint64(64 - bits) if bits else np.zeros_like(u)
        suffix = (u >> np.uint64(64 - bits - 8 * SUFFIX)) & np.uint64((1 << (8 * SUFFIX)) - 1)
        return (bucket << np.uint64(8 * SUFFIX)) | suffix

    def heads(self, keys: Keys) -> npt.NDArray[np.uint8]:
        """Bucket (3 bytes) + suffix (3 bytes) of each band key; every shard
        buckets alike, so one query serves them all."""
        return _as_bytes(self._heads(keys), HEAD)

    def records(self, parts: Sequence[tuple[Keys, U64]]) -> tuple[npt.NDArray[np.int64], bytes]:
        """Buckets (sorted) and the de-duplicated records in them (sorted as
        integers: a sort of byte rows would cost several times more)."""
        if not parts:
            return np.empty(0, np.int64), b""
        heads = self._heads(np.concatenate([k for k, _ in parts]))
        refs = np.concatenate([r for _, r in parts])
        order = np.lexsort((refs, heads))
        heads, refs = heads[order], refs[order]
        if heads.size:
            keep = np.r_[True, (heads[1:] != heads[:-1]) | (refs[1:] != refs[:-1])]
            heads, refs = heads[keep], refs[keep]
        rows = np.empty((heads.size, RECORD), np.uint8)
        rows[:, :SUFFIX] = _as_bytes(heads, SUFFIX)
        rows[:, SUFFIX:] = _as_bytes(refs, REF)
        return (heads >> np.uint64(8 * SUFFIX)).astype(np.int64), rows.tobytes()

    def filter_offsets(self, keys: Keys) -> U64:
        """The bits of each band key in its shard's filter (redis_filter)."""
        return self.filter.offsets(self._heads(keys))

    def filter_tests(self, keys: Keys) -> tuple[list[bytes | str | int], bytes]:
        """A check's BITFIELD_RO arguments and masks (redis_filter), in key order."""
        return self.filter.tests(self._heads(keys))

    def packed_filter_tests(self, keys: Keys) -> tuple[bytes, str, bytes]:
        """The same tests packed for the check script (offsets, type, masks)."""
        return self.filter.packed_tests(self._heads(keys))

    def filter_change(self, added: Sequence[tuple[Keys, U64]]) -> tuple[str, bytes]:
        """How APPLY sets the filter bits of the records ``added``: "o" and
        4-byte offsets, "b" and a bitmap to OR in, or "" (none)."""
        keys = [k for k, _ in added if k.size]
        if not keys:
            return "", b""
        offsets = self.filter_offsets(np.concatenate(keys))
        size = self.filter.size
        if offsets.size < size * SPARSE_FILTER:
            return "o", np.unique(offsets).astype(">u4").tobytes()
        # One flag per bit, packed: Redis numbers a string's bits from the top
        # bit of its first byte, as packbits does. (A sort and an OR per byte
        # cost 0.5 s for a batch of 5,000 paragraphs, a third of its ingest.)
        flags = np.zeros(size * 8, np.bool_)
        flags[offsets.astype(np.int64)] = True
        return "b", np.packbits(flags).tobytes()

    def changes(
        self, removed: Sequence[tuple[Keys, U64]], added: Sequence[tuple[Keys, U64]]
    ) -> tuple[bytes, list[bytes]]:
        """The APPLY script's bucket changes (one header and two runs of
        records per bucket) and the buckets changed, 3 bytes each. Laid out
        by index arithmetic: a batch touches most of the 2**14 buckets, and a
        Python turn per bucket cost a third of the packing."""
        rem_buckets, rem = self.records(removed)
        add_buckets, add = self.records(added)
        buckets = np.union1d(rem_buckets, add_buckets)
        rem_first = np.searchsorted(rem_buckets, buckets, "left")
        add_first = np.searchsorted(add_buckets, buckets, "left")
        nrem = np.searchsorted(rem_buckets, buckets, "right") - rem_first
        nadd = np.searchsorted(add_buckets, buckets, "right") - add_first
        sizes = HEADER + RECORD * (nrem + nadd)
        starts = np.cumsum(sizes) - sizes
        out = np.empty(int(sizes.sum()), np.uint8)
        heads = np.empty((buckets.size, HEADER), np.uint8)
        heads[:, :3] = _as_bytes(buckets.view(np.uint64), 3)
        heads[:, 3:7] = _as_bytes(nrem.view(np.uint64), 4)
        heads[:, 7:] = _as_bytes(nadd.view(np.uint64), 4)
        out[starts[:, None] + np.arange(HEADER)] = heads
        # Each bucket's removed records after its header, then its added ones.
        for record_buckets, blob, first, run in (
            (rem_buckets, rem, rem_first, starts + HEADER),
            (add_buckets, add, add_first, starts + HEADER + RECORD * nrem),
        ):
            if not record_buckets.size:
                continue
            k = np.searchsorted(buckets, record_buckets)
            at = run[k] + RECORD * (np.arange(record_buckets.size) - first[k])
            out[at[:, None] + np.arange(RECORD)] = np.frombuffer(blob, np.uint8).reshape(-1, RECORD)
        names = heads[:, :3].tobytes()
        return out.tobytes(), [names[n : n + 3] for n in range(0, len(names), 3)]

    def write_keys(self, shard: int, seqs: Sequence[str], buckets: Sequence[bytes]) -> tuple[bytes, ...]:
        """Every key a write of ``shard`` touches besides its meta: ids,
        names, the filter, the documents ``seqs`` (old and new) and the ``buckets``."""
        prefix = self.prefixes[shard]
        docs = [prefix + b"d" + s.encode() for s in sorted(set(seqs))]
        filters = (prefix + b"f", prefix + b"fd")  # the filter and APPLY's scratch key
        scratch = prefix + b"bt"  # APPLY's for a bucket (2 bytes after the prefix: no bucket's name)
        return (
            prefix + b"ids",
            prefix + b"names",
            *filters,
            scratch,
            *docs,
            *(prefix + b"b" + b for b in buckets),
        )

    def document_keys(self, shard: int, locals_: Sequence[int]) -> tuple[bytes, ...]:
        """The document lists holding these local refs."""
        prefix = self.prefixes[shard]
        seqs = sorted({ref >> INDEX_BITS for ref in locals_})
        return tuple(prefix + b"d" + str(seq).encode() for seq in seqs)


def lex_range(prefix: str) -> tuple[bytes, bytes]:
    """ZRANGEBYLEX bounds of the ids starting with ``prefix``: UTF-8 never
    holds the byte 0xff, so every such id sorts below prefix + 0xff."""
    encoded = prefix.encode()
    return b"[" + encoded, b"(" + encoded + b"\xff"
