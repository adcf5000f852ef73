"""The storage contract every backend implements (SQLite, Redis).

A store keeps documents, their paragraphs and the LSH band index. It knows
nothing about hashing: band keys come from the caller, and to forget an old
version of a document it asks the ``BandKeys`` function it was opened with
to recompute that version's keys from the stored text.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from app.store.distinct import counted, distinct, run_starts, runs, within
from app.store.hits import Hits

Keys = npt.NDArray[np.int64]
Positions = npt.NDArray[np.intp]
Refs = npt.NDArray[np.uint64]
# Band keys of each paragraph text (empty for paragraphs too short to index).
BandKeys = Callable[[Sequence[str]], list[Keys]]
WriteStatus = Literal["created", "updated", "unchanged"]


class StoreError(Exception):
    """The store cannot serve the request (unreachable, misconfigured)."""


class StoreUnavailable(StoreError):
    """The store is unreachable for now; the same request may succeed later."""


class StoreBroken(StoreError):
    """The index is damaged, gone or unsafe (a corrupted file, a deleted Redis
    namespace, a Redis that evicts keys): retrying will not help until an
    operator acts, and nothing may be written meanwhile."""


class SchemeMismatch(StoreError):
    """The index was built with other fingerprint parameters."""


@dataclass(frozen=True)
class NewParagraph:
    text: str
    keys: Keys


@dataclass(frozen=True)
class NewDocument:
    id: str
    metadata: Mapping[str, Any]
    digest: str  # identifies text and metadata: an equal digest means "unchanged"
    paragraphs: Sequence[NewParagraph]


class LazyJson(Mapping[str, Any]):
    """A JSON object parsed on first access: candidates' metadata is read
    only when a filter asks for it, and most checks have none."""

    __slots__ = ("_raw", "_value")

    def __init__(self, raw: str | bytes) -> None:
        self._raw = raw
        self._value: dict[str, Any] | None = None

    def _parsed(self) -> dict[str, Any]:
        if self._value is None:
            self._value = json.loads(self._raw) if self._raw else {}
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._parsed()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsed())

    def __len__(self) -> int:
        return len(self._parsed())

    def __eq__(self, other: object) -> bool:
        return self._parsed() == (dict(other) if isinstance(other, Mapping) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._parsed())


@dataclass(frozen=True)
class StoredParagraph:
    ref: int  # backend-specific paragraph handle, stable while the document is unchanged
    document_id: str
    index: int
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)  # its document's


@dataclass(frozen=True)
class StoredDocument:
    id: str
    metadata: dict[str, Any]
    paragraphs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoreStats:
    documents: int
    paragraphs: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CandidateRule:
    """Which refs a check's one store call returns, with their paragraphs:
    under each band key its ``refs_per_band`` lowest refs; under each
    passage fingerprint key all its refs when it has ``max_postings`` or
    fewer (a longer posting list is a formula: cut at ``max_postings + 1``
    refs, which is enough to tell, and proposing nothing). The hits are cut
    the same way. A ref found under fingerprints alone is a candidate when
    those fingerprints carry ``min_votes`` votes in all: ``postings`` may
    repeat a key, one vote per occurrence (a paragraph's fingerprint at one
    position), and a passage seed needs ``min_seeds`` such votes within one
    paragraph, so the article's sum is never below what a seed needs.
    Defined once here: the engine votes on exactly these hits and finds
    every paragraph it verifies among these candidates, whatever the backend
    (a sharded one applies the rule per shard, a superset, then once more on
    the merged hits)."""

    refs_per_band: int
    max_postings: int  # 0: no posting proposes a candidate
    min_votes: int = 1

    def cut(
        self, bands: Keys, postings: Keys, found: Mapping[int, Sequence[int]]
    ) -> tuple[dict[int, list[int]], set[int]]:
        """The hits kept (sorted refs per key) and the candidate refs."""
        band_set = set(bands.tolist())
        hits = self._kept(band_set, found)
        wanted: set[int] = set()
        # Every key found is a band key or in ``postings`` (one vote or more).
        weights = Counter(postings.tolist())
        votes: Counter[int] = Counter()
        for key, kept in hits.items():
            if key in band_set:
                wanted.update(kept)
            elif len(kept) <= self.max_postings:
                for ref in kept:
                    votes[ref] += weights[key]
        wanted.update(ref for ref, n in votes.items() if n >= self.min_votes)
        return hits, wanted

    def hits(self, bands: Keys, found: Mapping[int, Sequence[int]]) -> dict[int, list[int]]:
        """The hits ``cut`` keeps, without the candidates: a caller that
        chooses its own rows (``gather``) does not pay for the set."""
        return self._kept(set(bands.tolist()), found)

    def hits_found(self, bands: Keys, keys: Keys, owners: Positions, refs: Refs) -> Hits:
        """``hits`` of a lookup still in arrays: the ref ``refs[i]`` found
        under ``keys[owners[i]]`` (``keys`` distinct and sorted, pairs in
        any order and possibly repeated). The hits ``hits`` gives for those
        pairs, by three numpy passes instead of a Python step per key (~220
        keys found a check at 10M paragraphs)."""
        if not owners.size:
            return Hits.none()
        order = np.lexsort((refs, owners))
        owners, refs = owners[order], refs[order]
        fresh = np.ones(owners.size, dtype=bool)
        fresh[1:] = (owners[1:] != owners[:-1]) | (refs[1:] != refs[:-1])
        if not fresh.all():
            owners, refs = owners[fresh], refs[fresh]
        starts, lengths = runs(owners)
        # Nearly every key holds fewer refs than either cut: then none is cut.
        if int(lengths.max()) > min(self.refs_per_band, self.max_postings + 1):
            is_band = within(keys[owners[starts]], distinct(bands))
            limit = np.where(is_band, self.refs_per_band, self.max_postings + 1)
            rank = np.arange(owners.size) - np.repeat(starts, lengths)
            kept = rank < np.repeat(limit, lengths)
            owners, refs = owners[kept], refs[kept]
            starts = starts - np.concatenate(([0], np.cumsum(lengths - np.minimum(lengths, limit))[:-1]))
        return Hits(keys[owners[starts]], np.append(starts, owners.size), refs)

    def wanted(self, bands: Keys, postings: Keys, hits: Hits) -> Refs:
        """The candidate refs ``cut`` gives, from hits already cut (a
        sharded store's merged hits): ascending. Every key of ``hits`` is a
        band key or in ``postings``."""
        if not len(hits):
            return np.empty(0, dtype=np.uint64)
        lengths = np.diff(hits.bounds)
        is_band = within(hits.keys, distinct(bands))
        chosen = [hits.refs[np.repeat(is_band, lengths)]]
        voting = ~is_band & (lengths <= self.max_postings)
        if voting.any():
            # Each ref's votes: the occurrences in ``postings`` of every
            # fingerprint key it is found under.
            posting_keys, occurrences = counted(postings)
            weights = np.repeat(
                occurrences[np.searchsorted(posting_keys, hits.keys[voting])], lengths[voting]
            )
            refs = hits.refs[np.repeat(voting, lengths)]
            order = np.argsort(refs, kind="stable")
            refs, weights = refs[order], weights[order]
            starts = run_starts(refs)
            chosen.append(refs[starts][np.add.reduceat(weights, starts) >= self.min_votes])
        return distinct(np.concatenate(chosen))

    def _kept(self, band_set: set[int], found: Mapping[int, Sequence[int]]) -> dict[int, list[int]]:
        hits: dict[int, list[int]] = {}
        per_band, per_posting = self.refs_per_band, self.max_postings + 1
        # ``found`` holds only keys asked for, each at most once: a key that
        # is not a band key is a passage fingerprint.
        for key, refs in found.items():
            if not refs:
                continue
            kept = sorted(set(refs)) if len(refs) > 1 else list(refs)
            del kept[per_band if key in band_set else per_posting :]
            hits[key] = kept
        return hits


@dataclass(frozen=True)
class Candidates:
    """A check's archive hits and the candidate paragraphs behind them (see
    ``CandidateRule``; refs deleted meanwhile are absent from ``paragraphs``)."""

    hits: Hits
    paragraphs: dict[int, StoredParagraph]


def candidates_by_two_calls(store: Store, bands: Keys, postings: Keys, rule: CandidateRule) -> Candidates:
    """``Store.candidates`` from ``lookup`` and ``paragraphs``: for a store
    whose calls cost no network round trip (SQLite)."""
    hits, wanted = rule.cut(bands, postings, _looked_up(store, bands, postings))
    return Candidates(Hits.of(hits), store.paragraphs(sorted(wanted)) if wanted else {})


def asked(bands: Keys, postings: Keys) -> Keys:
    """The keys one lookup asks for: postings may repeat a key (votes, see
    ``CandidateRule``), looked up once."""
    return distinct(np.concatenate([bands, postings]))


def _looked_up(store: Store, bands: Keys, postings: Keys) -> dict[int, list[int]]:
    keys = asked(bands, postings)
    return store.lookup(keys) if keys.size else {}


Fetch = Callable[[Sequence[int]], Mapping[int, StoredParagraph]]


def gather(store: Store, bands: Keys, postings: Keys, rule: CandidateRule) -> tuple[Hits, Fetch]:
    """A check's hits (``CandidateRule``) and how to get the paragraphs of
    the refs it then chooses among them. A store whose calls cost no round
    trip (``local``) is asked for those rows alone, in a second call: at 10M
    paragraphs the rule's candidates were twice the ones a check uses (37.8
    against 18.2 band candidates a 10-paragraph article, most of the rest
    refs sharing one passage fingerprint where seeds need two). Any other
    store answers both in its one call (``candidates``)."""
    if store.local:
        return store.hits(bands, postings, rule), store.paragraphs
    found = store.candidates(bands, postings, rule)
    return found.hits, lambda refs: found.paragraphs


def refuse_repeated_ids(documents: Sequence[NewDocument]) -> None:
    """Which of two versions in one batch should win is the caller's to
    say (the CLI writes a repeated document as its later version, in a later
    batch), so every backend refuses such a batch before writing anything."""
    refuse_repeated(doc.id for doc in documents)


def refuse_repeated(ids: Iterable[str]) -> None:
    """``refuse_repeated_ids`` for a batch given by its ids alone."""
    seen: set[str] = set()
    for doc_id in ids:
        if doc_id in seen:
            raise ValueError(f"document {doc_id!r} appears twice in one batch: write one version of it")
        seen.add(doc_id)


class Store(Protocol):
    """What the service needs from an index backend.

    Every method is safe to call from several threads, and every write is
    atomic: readers see a document entirely or not at all.
    """

    # An embedded store (a local file): its calls never wait on a network,
    # so a small request may be served without a thread hop.
    local: bool

    def put(self, documents: Sequence[NewDocument]) -> list[WriteStatus]:
        """Create or replace documents, all in one atomic step. A batch that
        names a document twice raises ValueError (``refuse_repeated_ids``)
        and writes nothing."""
        ...

    def get(self, document_id: str) -> StoredDocument | None: ...

    def delete(self, document_id: str) -> bool:
        """Remove a document with its paragraphs and index entries; False if unknown."""
        ...

    def lookup(self, keys: Keys) -> dict[int, list[int]]:
        """Paragraph refs indexed under each of ``keys`` (keys with none are absent)."""
        ...

    def paragraphs(self, refs: Sequence[int]) -> dict[int, StoredParagraph]:
        """The paragraphs behind ``refs``, with their document's metadata
        (refs deleted meanwhile are absent)."""
        ...

    def hits(self, bands: Keys, postings: Keys, rule: CandidateRule) -> Hits:
        """``rule.hits`` of the lookup of these band and passage fingerprint
        keys (``postings`` may repeat a key), without the paragraphs."""
        ...

    def candidates(self, bands: Keys, postings: Keys, rule: CandidateRule) -> Candidates:
        """A check's whole archive read in one call: the hits of its band
        and passage fingerprint keys and the candidate paragraphs, as
        ``rule`` selects them (one round trip per master on Redis)."""
        ...

    def first_paragraphs(self, prefix: str, limit: int) -> list[StoredDocument]:
        """Stored documents whose id starts with ``prefix``, sorted by id, at
        most ``limit``, each with its metadata and only its first paragraph
        (none if it has none): one call that reads those documents only."""
        ...

    def compact(self, full: bool = False) -> int:
        """Runs the upkeep a backend defers (SQLite: index merges) and, with
        ``full``, rewrites its index for reading, as after a bulk load;
        returns the steps run (0 where there is nothing to do)."""
        ...

    def stats(self) -> StoreStats: ...

    def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""
        ...

    def close(self) -> None: ...
