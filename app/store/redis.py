"""Redis backend: many service replicas share one index on Redis or a Redis Cluster.

URL forms (the query options are the backend's; redis-py's own options such
as ``socket_timeout`` may be added to the standalone forms)::

    redis://[user:password@]host:port/db?namespace=news
    rediss://...                                   (TLS)
    redis+cluster://[user:password@]host:port[,host:port...]?namespace=news

``namespace`` (default ``default``) separates indexes sharing one Redis; it
is created only by a URL with ``create=1``, and ``shards`` (default 32 on a
cluster, 1 on a standalone server), ``bucket_bits`` (default 14) and
``filter_bits`` (default 11, see ``redis_filter``; its copies in ``redis_filter_cache``) are fixed then.
``wait_replicas`` (default 0) and ``wait_timeout`` (ms, default 1000) make
every write wait for that many replicas of each master written.
Connections, URL options and the checks that refuse a vanished namespace or
an evicting Redis are in ``redis_client``; shards and packing in
``redis_layout``; the key layout and why each write is atomic in
``redis_lua``; waves of shard calls in ``redis_wave``; opening a namespace in
``redis_root``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from app.store import redis_lua as lua
from app.store import redis_lua_reads as reads
from app.store.base import (
    BandKeys,
    CandidateRule,
    Candidates,
    Keys,
    NewDocument,
    StoreBroken,
    StoredDocument,
    StoredParagraph,
    StoreError,
    StoreStats,
    WriteStatus,
    refuse_repeated_ids,
)
from app.store.distinct import distinct
from app.store.hits import Hits
from app.store.redis_candidates import CandidateWave
from app.store.redis_client import (
    connect,
    eviction_problems,
    guard,
    parse_url,
)
from app.store.redis_filter_cache import new_generation
from app.store.redis_layout import (
    LOCAL_REFS,
    MAX_PARAGRAPHS,
    MAX_SEQ,
    REF,
    U64,
    Layout,
    State,
    lex_range,
    local_refs,
    shard_of,
    stored_paragraphs,
    unpack_refs,
    unpack_state,
)
from app.store.redis_root import open_root
from app.store.redis_wave import Call, Waves

MAX_ATTEMPTS = 50

# One document's part of a write: op, id, expected seq and digest, seq, new version.
Step = tuple[str, str, str, bytes, str, NewDocument | None]
# APPLY's arguments for one shard, and the keys it declares.
Plan = tuple[list[bytes | str | int], tuple[bytes, ...]]


class RedisStore:
    local = False

    def __init__(self, url: str, band_keys: BandKeys, scheme: str) -> None:
        target = parse_url(url)
        self.namespace = target.namespace
        self.cluster = target.cluster
        self.scheme = scheme
        self._band_keys = band_keys
        with self._guard():
            self.client = connect(target)
            shards, bits, filter_format = open_root(self.client, self.namespace, self.scheme, target)
            self.layout = Layout(target.namespace, shards, bits, filter_format)
            self.waves = Waves(
                self.client,
                {
                    "create": lua.CREATE,
                    "stats": lua.STATS,
                    "candidates": reads.CANDIDATES,
                    "lookup": reads.LOOKUP,
                    "paragraphs": reads.PARAGRAPHS,
                    "state": lua.STATE,
                    "apply": lua.APPLY,
                    "first_paragraphs": reads.FIRST_PARAGRAPHS,
                    "filter": reads.FILTER,
                },
                target.wait_replicas,
                target.wait_timeout,
                frozenset({"create", "stats", "paragraphs", "apply"}),
            )
            if target.create:
                self._create_shards()
            self._refuse_eviction()
        self.stats()  # every shard is there, with this scheme
        self.checks = CandidateWave(self.layout, self.waves, self.scheme, self._read_filter)

    def _guard(self) -> AbstractContextManager[None]:
        return guard(self.namespace, self.scheme)

    def _run(
        self,
        name: str,
        args: Mapping[int, Sequence[bytes | str | int]],
        kind: str,
        write: bool = False,
        keys: Mapping[int, tuple[bytes, ...]] | None = None,
    ) -> dict[int, Any]:
        """One wave: the script on each named shard. The scheme goes last:
        lua.GUARD takes it off before the script runs. ``keys``: the keys
        each shard's call declares besides its meta (on a cluster only, where
        they make a slot migration refuse the call before it starts; a
        single server has nothing to refuse)."""
        declared = keys if keys is not None and self.cluster else {}
        calls = [
            Call(
                shard,
                self.layout.metas[shard],
                [self.layout.prefixes[shard], *a, self.scheme],
                declared.get(shard, ()),
            )
            for shard, a in args.items()
        ]
        with self._guard():
            return self.waves.run(name, calls, kind, write)

    def _everywhere(self, args: Sequence[bytes | str | int] = ()) -> dict[int, Sequence[bytes | str | int]]:
        return dict.fromkeys(range(self.layout.shards), args)

    def _create_shards(self) -> None:
        layout = self.layout
        calls = [
            Call(
                s,
                layout.metas[s],
                [
                    layout.prefixes[s],
                    self.scheme,
                    layout.shard_bits,
                    layout.shards,
                    layout.filter.name,
                    new_generation(),
                ],
                (layout.prefixes[s] + b"ids",) if self.cluster else (),
            )
            for s in range(layout.shards)
        ]
        self.waves.run("create", calls, "create")

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
        shards: dict[int, list[int]] = {}
        for n, doc in enumerate(documents):
            shards.setdefault(shard_of(doc.id, self.layout.shards), []).append(n)
        statuses: list[WriteStatus] = ["unchanged"] * len(documents)
        # Each shard is written atomically, all shards in one wave; a shard
        # that lost a race with another writer is read and written again.
        for _ in range(MAX_ATTEMPTS):
            states = self._state({s: [documents[n] for n in ns] for s, ns in shards.items()}, True)
            plans = {}
            for shard, ns in shards.items():
                plan, found = self._plan(shard, [documents[n] for n in ns], states[shard])
                statuses_of = dict(zip(ns, found, strict=True))
                for n in ns:
                    statuses[n] = statuses_of[n]
                if plan is not None:
                    plans[shard] = plan
            done = self._apply(plans)
            shards = {s: ns for s, ns in shards.items() if s in plans and not int(done[s])}
            if not shards:
                return statuses
        raise StoreError(f"gave up after {MAX_ATTEMPTS} attempts: too many concurrent writers")

    def _apply(self, plans: Mapping[int, Plan]) -> dict[int, Any]:
        if not plans:
            return {}
        args = {s: a for s, (a, _) in plans.items()}
        keys = {s: k for s, (_, k) in plans.items()}
        return self._run("apply", args, "ingest", write=True, keys=keys)

    def _plan(
        self, shard: int, documents: Sequence[NewDocument], state: Sequence[State | int]
    ) -> tuple[Plan | None, list[WriteStatus]]:
        """The APPLY arguments of one shard's part of a batch (None when it
        changes nothing) and each document's status."""
        statuses: list[WriteStatus] = []
        plan: list[Step] = []
        removed: list[tuple[Keys, U64]] = []
        added: list[tuple[Keys, U64]] = []
        delta_docs = delta_paras = 0
        for doc, old in zip(documents, state, strict=True):
            if isinstance(old, int):  # absent: a fresh number reserved
                if old >= MAX_SEQ:
                    raise StoreError(
                        f"a shard of namespace {self.namespace!r} has used all its document numbers"
                    )
                seq, old_seq, old_digest = str(old), "", b""
                statuses.append("created")
                delta_docs += 1
                delta_paras += len(doc.paragraphs)
            else:
                assert old is not None
                if old[1] is None:
                    statuses.append("unchanged")
                    plan.append(("c", doc.id, old[0], doc.digest.encode(), old[0], None))
                    continue
                seq, old_seq, old_digest = old[0], old[0], old[1][1]
                statuses.append("updated")
                old_texts = [t.decode() for t in old[1][3:]]
                removed.append(local_refs(int(seq), self._band_keys(old_texts)))
                delta_paras += len(doc.paragraphs) - len(old_texts)
            added.append(local_refs(int(seq), [p.keys for p in doc.paragraphs]))
            plan.append(("p", doc.id, old_seq, old_digest, seq, doc))
        if all(op == "c" for op, *_ in plan) and not self.waves.wait_replicas:
            # Nothing to write. (With wait_replicas the check-only script
            # still runs: its counter write is replicated after any earlier
            # write of the shard, so WAIT confirms a retried batch too.)
            return None, statuses
        return self._apply_args(shard, plan, removed, added, delta_docs, delta_paras), statuses

    def _state(
        self, wanted: Mapping[int, Sequence[NewDocument | str]], reserve: bool
    ) -> dict[int, list[State | int]]:
        """Per shard, per document: None if absent (with ``reserve``, a new
        number instead); (seq, None) if its digest is the given one; (seq,
        stored list) otherwise."""
        args: dict[int, Sequence[bytes | str | int]] = {}
        for shard, docs in wanted.items():
            pairs: list[str] = []
            for doc in docs:
                pairs += [doc, ""] if isinstance(doc, str) else [doc.id, doc.digest]
            args[shard] = ["1" if reserve else "0", *pairs]
        raw = self._run("state", args, "ingest" if reserve else "read")
        return {shard: unpack_state(items, self.namespace) for shard, items in raw.items()}

    def _apply_args(
        self,
        shard: int,
        plan: Sequence[Step],
        removed: list[tuple[Keys, U64]],
        added: list[tuple[Keys, U64]],
        delta_docs: int,
        delta_paras: int,
    ) -> Plan:
        """APPLY's arguments, and every key it touches (declared on a cluster)."""
        args: list[bytes | str | int] = [len(plan)]
        seqs = []
        for op, doc_id, old_seq, old_digest, seq, doc in plan:
            seqs += [s for s in (old_seq, seq if op == "p" else "") if s]
            texts = [p.text for p in doc.paragraphs] if doc else []
            metadata = json.dumps(doc.metadata, ensure_ascii=False, separators=(",", ":")) if doc else ""
            digest = doc.digest if doc else ""
            args += [op, doc_id, old_seq, old_digest, seq, digest, metadata, len(texts), *texts]
        blob, buckets = self.layout.changes(removed, added)
        mode, bits = self.layout.filter_change(added)
        keys = self.layout.write_keys(shard, seqs, buckets) if self.cluster else ()
        return [*args, blob, delta_docs, delta_paras, mode, bits, new_generation()], keys

    def delete(self, document_id: str) -> bool:
        shard = shard_of(document_id, self.layout.shards)
        for _ in range(MAX_ATTEMPTS):
            old = self._state({shard: [document_id]}, False)[shard][0]
            if old is None:
                return False
            assert not isinstance(old, int) and old[1] is not None
            seq, stored = old[0], old[1]
            texts = [t.decode() for t in stored[3:]]
            removed = [local_refs(int(seq), self._band_keys(texts))]
            plan: list[Step] = [("d", document_id, seq, stored[1], seq, None)]
            if int(self._apply({shard: self._apply_args(shard, plan, removed, [], -1, -len(texts))})[shard]):
                return True
        raise StoreError(f"gave up after {MAX_ATTEMPTS} attempts: too many concurrent writers")

    # reads

    def get(self, document_id: str) -> StoredDocument | None:
        shard = shard_of(document_id, self.layout.shards)
        found = self._state({shard: [document_id]}, False)[shard][0]
        if found is None or isinstance(found, int) or found[1] is None:
            return None
        stored = found[1]
        return StoredDocument(document_id, json.loads(stored[2]), [t.decode() for t in stored[3:]])

    def lookup(self, keys: Keys) -> dict[int, list[int]]:
        unique = distinct(keys)
        if not unique.size:
            return {}
        raw = self._run("lookup", self._everywhere([self.layout.heads(unique).tobytes()]), "lookup")
        found: dict[int, list[int]] = {}
        listed = unique.tolist()
        for shard, answer in raw.items():
            for key, packed in zip(listed, answer, strict=True):
                if packed:
                    found.setdefault(key, []).extend(unpack_refs(packed, shard))
        return {key: sorted(set(refs)) for key, refs in found.items()}

    def candidates(self, bands: Keys, postings: Keys, rule: CandidateRule) -> Candidates:
        with self._guard():
            return self.checks.candidates(bands, postings, rule)

    def hits(self, bands: Keys, postings: Keys, rule: CandidateRule) -> Hits:
        # The check's one wave reads hits and candidates together: asking
        # for the hits alone saves no round trip.
        return self.candidates(bands, postings, rule).hits

    def _read_filter(self, shard: int) -> tuple[bytes | None, bytes | None]:
        generation, bitmap = self._run("filter", {shard: []}, "filter")[shard]
        return generation, bitmap

    def paragraphs(self, refs: Sequence[int]) -> dict[int, StoredParagraph]:
        by_shard: dict[int, list[int]] = {}
        for ref in sorted(set(refs)):
            if ref >> 32 < self.layout.shards:
                by_shard.setdefault(ref >> 32, []).append(ref & LOCAL_REFS)
        if not by_shard:
            return {}
        args = {s: [b"".join(r.to_bytes(REF, "big") for r in local)] for s, local in by_shard.items()}
        keys = {s: self.layout.document_keys(s, local) for s, local in by_shard.items()}
        raw = self._run("paragraphs", args, "paragraphs", keys=keys)
        out: dict[int, StoredParagraph] = {}
        for shard, answer in raw.items():
            quads: list[Any] = [None]
            for local, n in zip(by_shard[shard], range(0, len(answer), 3), strict=True):
                quads += [local.to_bytes(REF, "big"), *answer[n : n + 3]]
            out.update(stored_paragraphs(shard, quads, 1))
        return out

    def first_paragraphs(self, prefix: str, limit: int) -> list[StoredDocument]:
        raw = self._run("first_paragraphs", self._everywhere([*lex_range(prefix), limit]), "read")
        found = [
            StoredDocument(
                answer[i].decode(),
                json.loads(answer[i + 1]),
                [answer[i + 2].decode()] if answer[i + 2] else [],
            )
            for answer in raw.values()
            for i in range(0, len(answer), 3)
        ]
        return sorted(found, key=lambda d: d.id.encode())[:limit]

    def stats(self) -> StoreStats:
        raw = self._run("stats", self._everywhere(), "stats")
        docs = sum(int(v[0] or 0) for v in raw.values())
        paras = sum(int(v[1] or 0) for v in raw.values())
        return StoreStats(
            docs,
            paras,
            {
                "backend": "redis-cluster" if self.cluster else "redis",
                "namespace": self.namespace,
                "bucket_bits": self.layout.bits,
                "shards": self.layout.shards,
                "round_trips": self.round_trips(),
            },
        )

    def round_trips(self) -> dict[str, Any]:
        """Waves sent and round trips to each master since opening, per kind
        (a check is one ``check`` wave: one round trip to each master)."""
        waves = self.waves
        return {
            kind: {"waves": waves.waves[kind], "per_master": dict(sorted(trips.items()))}
            for kind, trips in sorted(waves.trips.items())
        }

    def ping(self) -> None:
        # The STATS script runs on the very nodes that serve this namespace
        # (a bare PING would not, in a cluster) and fails when it vanished.
        self.stats()
        with self._guard():
            self._refuse_eviction()

    def compact(self, full: bool = False) -> int:
        return 0  # every write leaves its shard as reads want it

    def close(self) -> None:
        self.checks.close()
        with self._guard():
            self.waves.close()
            self.client.close()


__all__ = ["RedisStore"]
