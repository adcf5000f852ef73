"""Redis backend: many service replicas share one index on Redis or a Redis Cluster.

URL forms (the query options are the backend's; redis-py's own options such
as ``socket_timeout`` may be added to the standalone forms)::

    redis://[user:password@]host:port/db?namespace=news
    rediss://...                                   (TLS)
    redis+cluster://[user:password@]host:port[,host:port...]?namespace=news

``namespace`` (default ``default``) separates indexes sharing one Redis; it
is created only by a URL with ``create=1``, and ``bucket_bits`` (default 14)
is fixed then. Connections, URL options and the checks that refuse a
vanished namespace or an evicting Redis are in ``redis_client``; the key
layout and why each write is atomic in ``redis_lua``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import numpy.typing as npt

from app.store import redis_lua as lua
from app.store.base import (
    BandKeys,
    Keys,
    LazyJson,
    NewDocument,
    SchemeMismatch,
    StoreBroken,
    StoredDocument,
    StoredParagraph,
    StoreError,
    StoreStats,
    WriteStatus,
    refuse_repeated_ids,
)
from app.store.redis_client import connect, eviction_problems, guard, missing_namespace, parse_url

INDEX_BITS = 16
MAX_PARAGRAPHS = 1 << INDEX_BITS
MAX_DOCUMENTS = 1 << 24  # document numbers are 3 bytes in every ref
MAX_ATTEMPTS = 50

U64 = npt.NDArray[np.uint64]
# One document's part of a write: op, id, expected seq and digest, seq, new version.
Step = tuple[str, str, bytes, bytes, bytes, NewDocument | None]


def _as_bytes(column: U64, width: int) -> npt.NDArray[np.uint8]:
    """Big-endian bytes of each value, keeping the low ``width`` bytes."""
    return column.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - width :]


def _lex_range(prefix: str) -> tuple[bytes, bytes]:
    """ZRANGEBYLEX bounds of the ids starting with ``prefix``: UTF-8 never
    holds the byte 0xff, so every such id sorts below prefix + 0xff."""
    encoded = prefix.encode()
    return b"[" + encoded, b"(" + encoded + b"\xff"


class _Layout:
    """Key names and the packing of band keys and refs into bytes."""

    def __init__(self, namespace: str, bucket_bits: int) -> None:
        self.prefix = f"paradup:{{{namespace}}}:".encode()
        self.meta = self.prefix + b"meta"
        self.ids = self.prefix + b"ids"
        self.names = self.prefix + b"names"
        self.bits = bucket_bits

    def doc_key(self, seq: bytes) -> bytes:
        return self.prefix + b"d" + seq

    def heads(self, keys: Keys) -> npt.NDArray[np.uint8]:
        """Bucket (3 bytes) + suffix (3 bytes) of each band key."""
        u = keys.astype(np.int64).view(np.uint64)
        bucket = u >> np.uint64(64 - self.bits)
        suffix = (u >> np.uint64(40 - self.bits)) & np.uint64(0xFFFFFF)
        return _as_bytes((bucket << np.uint64(24)) | suffix, 6)

    def records(self, parts: Sequence[tuple[Keys, U64]]) -> tuple[npt.NDArray[np.int64], bytes]:
        """Buckets (sorted) and the de-duplicated 8-byte records in them."""
        if not parts:
            return np.empty(0, np.int64), b""
        keys = np.concatenate([k for k, _ in parts])
        refs = np.concatenate([r for _, r in parts])
        rows = np.concatenate([self.heads(keys), _as_bytes(refs, lua.REF)], axis=1)
        unique = np.unique(np.ascontiguousarray(rows).view("V11").ravel())
        table = unique.view(np.uint8).reshape(-1, 11)
        buckets = (table[:, 0].astype(np.int64) << 16) | (table[:, 1].astype(np.int64) << 8) | table[:, 2]
        return buckets, table[:, 3:].tobytes()

    def changes(self, removed: Sequence[tuple[Keys, U64]], added: Sequence[tuple[Keys, U64]]) -> bytes:
        """The APPLY script's bucket changes: one header and two runs of records per bucket."""
        rem_buckets, rem = self.records(removed)
        add_buckets, add = self.records(added)
        buckets = np.union1d(rem_buckets, add_buckets)
        bounds = [
            np.searchsorted(b, buckets, side) * 8
            for b in (rem_buckets, add_buckets)
            for side in ("left", "right")
        ]
        heads = np.zeros((buckets.size, 11), np.uint8)
        heads[:, :3] = _as_bytes(buckets.view(np.uint64), 3)
        heads[:, 3:7] = _as_bytes(((bounds[1] - bounds[0]) // 8).view(np.uint64), 4)
        heads[:, 7:] = _as_bytes(((bounds[3] - bounds[2]) // 8).view(np.uint64), 4)
        out = []
        for head, r0, r1, a0, a1 in zip(heads, *(b.tolist() for b in bounds), strict=True):
            out += [head.tobytes(), rem[r0:r1], add[a0:a1]]
        return b"".join(out)


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


def _seq_bytes(seq: int) -> bytes:
    return seq.to_bytes(3, "big")


def _paragraph_refs(seq: bytes, keys: Sequence[Keys]) -> tuple[Keys, U64]:
    base = int.from_bytes(seq, "big") << INDEX_BITS
    flat = [k for k in keys if k.size]
    if not flat:
        return np.empty(0, np.int64), np.empty(0, np.uint64)
    refs = np.concatenate([np.full(k.size, base + i, np.uint64) for i, k in enumerate(keys) if k.size])
    return np.concatenate(flat), refs


class RedisStore:
    local = False

    def __init__(self, url: str, band_keys: BandKeys, scheme: str) -> None:
        target = parse_url(url)
        self.namespace = target.namespace
        self.cluster = target.cluster
        self.scheme = scheme
        self._band_keys = band_keys
        self.layout = _Layout(target.namespace, target.bucket_bits)
        with self._guard():
            self.client = connect(target)
            self._scripts = {
                name: self.client.register_script(source)
                for name, source in {
                    "create": lua.CREATE,
                    "reserve": lua.RESERVE,
                    "stats": lua.STATS,
                    "lookup": lua.LOOKUP,
                    "paragraphs": lua.PARAGRAPHS,
                    "state": lua.STATE,
                    "apply": lua.APPLY,
                    "index_names": lua.INDEX_NAMES,
                    "first_paragraphs": lua.FIRST_PARAGRAPHS,
                }.items()
            }
            self.layout.bits = self._open_namespace(target.bucket_bits, target.create)
            self._refuse_eviction()
        self._run("index_names", [])

    def _guard(self) -> AbstractContextManager[None]:
        return guard(self.namespace, self.scheme)

    def _run(self, name: str, args: Sequence[bytes | str | int]) -> Any:
        # The scheme goes last: lua.GUARD takes it off before the script runs.
        with self._guard():
            return self._scripts[name](keys=[self.layout.meta], args=[self.layout.prefix, *args, self.scheme])

    def _open_namespace(self, bits: int, create: bool) -> int:
        """The namespace's bucket bits, after checking its scheme. It is
        created only when asked (``create=1``): a namespace that vanished
        must not come back empty unnoticed."""
        meta = self.layout.meta
        if create:
            found = self._scripts["create"](keys=[meta], args=[self.layout.prefix, self.scheme, str(bits)])
        else:
            found = self.client.hmget(meta, ["scheme", "bucket_bits"])
        stored_scheme, stored_bits = (_text(v) for v in found)
        if not stored_scheme:
            if self.client.exists(meta):
                raise StoreBroken(
                    f"Redis namespace {self.namespace!r} has no fingerprint scheme: it was written "
                    "again after its data was lost. Delete its keys and re-ingest, or restore a backup"
                )
            raise missing_namespace(self.namespace)
        if stored_scheme != self.scheme:
            raise SchemeMismatch(
                f"namespace {self.namespace!r} was indexed with {stored_scheme!r}, not {self.scheme!r}: "
                "use the same fingerprint settings or a new namespace"
            )
        # The namespace's creator fixed the bucket count; a URL asking for
        # another one must not scatter keys where lookups will not look.
        return int(stored_bits)

    def _refuse_eviction(self) -> None:
        problems = eviction_problems(self.client)
        if problems:
            raise StoreBroken("; ".join(problems))

    # writes

    def put(self, documents: Sequence[NewDocument]) -> list[WriteStatus]:
        refuse_repeated_ids(documents)
        for doc in documents:
            if len(doc.paragraphs) > MAX_PARAGRAPHS:
                raise ValueError(f"document {doc.id!r} has more than {MAX_PARAGRAPHS} paragraphs")
        for _ in range(MAX_ATTEMPTS):
            state = self._state([(d.id, d.digest) for d in documents])
            statuses: list[WriteStatus] = [
                "created" if s is None else "unchanged" if s[1] is None else "updated" for s in state
            ]
            fresh = iter(self._reserve(statuses.count("created")))
            plan: list[Step] = []
            removed: list[tuple[Keys, U64]] = []
            added: list[tuple[Keys, U64]] = []
            delta_docs = delta_paras = 0
            for doc, status, old in zip(documents, statuses, state, strict=True):
                if status == "unchanged" and old is not None:
                    plan.append(("c", doc.id, old[0], doc.digest.encode(), old[0], None))
                    continue
                if status == "created":
                    seq, old_seq, old_digest = next(fresh), b"", b""
                    delta_docs += 1
                    delta_paras += len(doc.paragraphs)
                else:
                    assert old is not None and old[1] is not None
                    seq, old_seq, old_digest = old[0], old[0], old[1][1]
                    old_texts = [t.decode() for t in old[1][3:]]
                    removed.append(_paragraph_refs(seq, self._band_keys(old_texts)))
                    delta_paras += len(doc.paragraphs) - len(old_texts)
                added.append(_paragraph_refs(seq, [p.keys for p in doc.paragraphs]))
                plan.append(("p", doc.id, old_seq, old_digest, seq, doc))
            if self._apply(plan, removed, added, delta_docs, delta_paras):
                return statuses
        raise StoreError(f"gave up after {MAX_ATTEMPTS} attempts: too many concurrent writers")

    def _state(self, wanted: Sequence[tuple[str, str]]) -> list[tuple[bytes, list[bytes] | None] | None]:
        """Per document: None if absent; (seq, None) if its digest is the
        given one; (seq, stored list) otherwise."""
        raw = self._run("state", [x for pair in wanted for x in pair])
        out: list[tuple[bytes, list[bytes] | None] | None] = []
        for item in raw:
            if not item:
                out.append(None)
            elif isinstance(item[1], list):
                out.append((item[0], item[1]))
            else:
                out.append((item[0], None))
        return out

    def _reserve(self, count: int) -> list[bytes]:
        if not count:
            return []
        last = int(self._run("reserve", [count]))
        # Numbers lost to a retried or failed batch are never reused: gaps are harmless.
        if last >= MAX_DOCUMENTS:
            raise StoreError(f"namespace {self.namespace!r} has used all {MAX_DOCUMENTS} document numbers")
        return [_seq_bytes(s) for s in range(last - count + 1, last + 1)]

    def _apply(
        self,
        plan: Sequence[Step],
        removed: list[tuple[Keys, U64]],
        added: list[tuple[Keys, U64]],
        delta_docs: int,
        delta_paras: int,
    ) -> bool:
        if all(op == "c" for op, *_ in plan):
            return True
        args: list[bytes | str | int] = [len(plan)]
        for op, doc_id, old_seq, old_digest, seq, doc in plan:
            texts = [p.text for p in doc.paragraphs] if doc else []
            metadata = json.dumps(doc.metadata, ensure_ascii=False, separators=(",", ":")) if doc else ""
            digest = doc.digest if doc else ""
            args += [op, doc_id, old_seq, old_digest, seq, digest, metadata, len(texts), *texts]
        args += [self.layout.changes(removed, added), delta_docs, delta_paras]
        return bool(self._run("apply", args))

    def delete(self, document_id: str) -> bool:
        for _ in range(MAX_ATTEMPTS):
            (old,) = self._state([(document_id, "")])
            if old is None:
                return False
            seq, stored = old
            assert stored is not None
            texts = [t.decode() for t in stored[3:]]
            removed = [_paragraph_refs(seq, self._band_keys(texts))]
            plan: list[Step] = [("d", document_id, seq, stored[1], seq, None)]
            if self._apply(plan, removed, [], -1, -len(texts)):
                return True
        raise StoreError(f"gave up after {MAX_ATTEMPTS} attempts: too many concurrent writers")

    # reads

    def get(self, document_id: str) -> StoredDocument | None:
        (found,) = self._state([(document_id, "")])
        if found is None or found[1] is None:
            return None
        stored = found[1]
        return StoredDocument(document_id, json.loads(stored[2]), [t.decode() for t in stored[3:]])

    def lookup(self, keys: Keys) -> dict[int, list[int]]:
        unique = np.unique(keys)
        if not unique.size:
            return {}
        raw = self._run("lookup", [self.layout.heads(unique).tobytes()])
        found: dict[int, list[int]] = {}
        for key, packed in zip(unique.tolist(), raw, strict=True):
            if packed:
                refs = {
                    int.from_bytes(packed[i : i + lua.REF], "big") for i in range(0, len(packed), lua.REF)
                }
                found[key] = sorted(refs)
        return found

    def paragraphs(self, refs: Sequence[int]) -> dict[int, StoredParagraph]:
        wanted = sorted(set(refs))
        if not wanted:
            return {}
        query = b"".join(r.to_bytes(lua.REF, "big") for r in wanted)
        raw = self._run("paragraphs", [query])
        out: dict[int, StoredParagraph] = {}
        metadata: dict[bytes, LazyJson] = {}
        for n, ref in enumerate(wanted):
            doc_id, text, meta = raw[3 * n], raw[3 * n + 1], raw[3 * n + 2]
            if doc_id is not None and meta is not None:
                # Sent with the document's first ref only (see lua.PARAGRAPHS).
                metadata[doc_id] = LazyJson(meta)
            if doc_id is not None and text is not None:
                index = ref & (MAX_PARAGRAPHS - 1)
                meta_of = metadata.setdefault(doc_id, LazyJson(b""))
                out[ref] = StoredParagraph(ref, doc_id.decode(), index, text.decode(), meta_of)
        return out

    def first_paragraphs(self, prefix: str, limit: int) -> list[StoredDocument]:
        raw = self._run("first_paragraphs", [*_lex_range(prefix), limit])
        return [
            StoredDocument(
                raw[i].decode(), json.loads(raw[i + 1]), [raw[i + 2].decode()] if raw[i + 2] else []
            )
            for i in range(0, len(raw), 3)
        ]

    def stats(self) -> StoreStats:
        docs, paras = (int(v or 0) for v in self._run("stats", []))
        return StoreStats(
            docs,
            paras,
            {
                "backend": "redis-cluster" if self.cluster else "redis",
                "namespace": self.namespace,
                "bucket_bits": self.layout.bits,
            },
        )

    def ping(self) -> None:
        # The STATS script runs on the very node that serves this namespace
        # (a bare PING would not, in a cluster) and fails when it vanished.
        self._run("stats", [])
        with self._guard():
            self._refuse_eviction()

    def close(self) -> None:
        with self._guard():
            self.client.close()
