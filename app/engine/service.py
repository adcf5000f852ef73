"""The application service: what the HTTP layer and the CLI call."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.engine import allowlist, votes
from app.engine.allowlist import AllowEntry
from app.engine.cancel import NEVER, Deadline
from app.engine.check import Checker, ParagraphResult, Thresholds
from app.engine.earlier_schemes import open_with_earlier_bands
from app.engine.filters import ArchiveFilter
from app.engine.fingerprint import Fingerprinter, Prints, fingerprinter
from app.engine.passages import PassageFinder, PassageRules
from app.engine.records import metadata_bytes
from app.hashing.minhash import chunk_bounds, text_ends
from app.hashing.winnow import Winnowing
from app.settings import Settings
from app.store import (
    NewDocument,
    NewParagraph,
    SchemeMismatch,
    Store,
    StoredDocument,
    StoreStats,
    WriteStatus,
    open_store,
)
from app.store.base import Keys
from app.text import Format, Paragraph, split
from app.text.sanitise import UnacceptableText, sanitise

log = logging.getLogger("paradup")
# Paragraphs are fingerprinted in slices of about this many characters, so
# that a deadline is noticed between two slices (a few milliseconds each).
FINGERPRINT_SLICE_CHARS = 16 * 1024


class InvalidDocument(ValueError):
    """The document, or a parameter given with it, cannot be accepted as it
    is (the message says why)."""


@dataclass(frozen=True)
class DocumentInput:
    id: str
    text: str
    format: Format = "text"
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestResult:
    id: str
    status: WriteStatus
    paragraphs: int


class Preparer:
    """Splitting and fingerprinting documents: what ingesting needs besides
    the store, so that a process without one (bulk ingest's) can prepare."""

    def __init__(self, settings: Settings, fingerprinter: Fingerprinter) -> None:
        self.settings = settings
        self.fingerprinter = fingerprinter

    def _split(self, text: str, fmt: Format, what: str, deadline: Deadline = NEVER) -> list[Paragraph]:
        settings = self.settings
        deadline.check("splitting")
        try:
            text = sanitise(text, settings.reject_control_chars)
        except UnacceptableText as exc:
            raise InvalidDocument(f"{what} contains {exc}") from None
        deadline.check("splitting")
        paragraphs = split(text, fmt)
        deadline.check("splitting")
        if not paragraphs:
            raise InvalidDocument(f"{what} is empty: it holds no paragraph")
        if len(paragraphs) > settings.max_paragraphs:
            raise InvalidDocument(
                f"{what} has {len(paragraphs)} paragraphs; the limit is {settings.max_paragraphs}"
            )
        longest = max(paragraphs, key=lambda p: len(p.text))
        if len(longest.text) > settings.max_paragraph_chars:
            raise InvalidDocument(
                f"{what}: paragraph {longest.index} is {len(longest.text)} characters long; "
                f"the limit is {settings.max_paragraph_chars}"
            )
        return paragraphs

    def _fingerprint(
        self, texts: Sequence[str], deadline: Deadline, tokens: bool = False, index_keys: bool = True
    ) -> Prints:
        """Analysis and index keys (band keys, then passage fingerprints) of
        the texts, and with ``tokens`` their tokens, computed slice by slice
        (``index_keys``: see ``Fingerprinter.prints``)."""
        prints = functools.partial(self.fingerprinter.prints, tokens=tokens, index_keys=index_keys)
        parts = []
        for start, end in chunk_bounds(text_ends(texts), FINGERPRINT_SLICE_CHARS):
            deadline.check("fingerprinting")
            parts.append(prints(texts[start:end]))
        return Prints.join(parts) if parts else prints([])

    def _index_keys(self, texts: Sequence[str], deadline: Deadline) -> list[Keys]:
        """The keys ``_fingerprint`` gives, and only them: an ingest needs no
        tokens nor winnowed positions, and the one compiled call that makes
        keys alone costs half of what ``prints`` does (8 us a paragraph
        instead of 17 in bulk ingest), slice by slice for the deadline."""
        keys: list[Keys] = []
        fingerprinter = self.fingerprinter
        for start, end in chunk_bounds(text_ends(texts), FINGERPRINT_SLICE_CHARS):
            deadline.check("fingerprinting")
            part = texts[start:end]
            keys.extend(fingerprinter.index_keys(part, fingerprinter.analyse(part)))
        return keys

    def prepare_many(self, docs: Sequence[DocumentInput], deadline: Deadline = NEVER) -> list[NewDocument]:
        """Split and fingerprint documents, all their paragraphs in one hashing
        call (its fixed cost dominates at a few paragraphs per document)."""
        self._refuse_unfit(docs)
        return self._prepare(docs, deadline)

    def prepare_texts(
        self, docs: Sequence[DocumentInput], deadline: Deadline = NEVER
    ) -> tuple[list[list[str]], list[Keys]]:
        """``prepare_many`` before the stored form: the paragraph texts of
        each document, and the index keys of every paragraph in order."""
        self._refuse_unfit(docs)
        return self._split_and_key(docs, deadline)

    def _refuse_unfit(self, docs: Sequence[DocumentInput]) -> None:
        reserved = next((d.id for d in docs if allowlist.is_entry(d.id)), None)
        if reserved is not None:
            raise InvalidDocument(
                f"document id {reserved!r}: ids starting with {allowlist.PREFIX!r} are reserved"
            )
        limit = self.settings.max_metadata_bytes
        for doc in docs:
            size = metadata_bytes(doc.metadata) if doc.metadata else 0
            if size > limit:
                raise InvalidDocument(
                    f"document {doc.id!r}: its metadata takes {size} bytes as JSON; the limit is {limit} "
                    "(PARADUP_MAX_METADATA_BYTES)"
                )

    def _split_and_key(
        self, docs: Sequence[DocumentInput], deadline: Deadline = NEVER
    ) -> tuple[list[list[str]], list[Keys]]:
        """The paragraph texts of each document, and the index keys of every
        paragraph in order (one hashing call for all of them)."""
        texts = [
            [p.text for p in self._split(d.text, d.format, f"document {d.id!r}", deadline)] for d in docs
        ]
        return texts, self._index_keys([t for paragraphs in texts for t in paragraphs], deadline)

    def _prepare(self, docs: Sequence[DocumentInput], deadline: Deadline = NEVER) -> list[NewDocument]:
        texts, flat_keys = self._split_and_key(docs, deadline)
        keys = iter(flat_keys)
        return [
            _document(doc, paragraphs, [next(keys) for _ in paragraphs])
            for doc, paragraphs in zip(docs, texts, strict=True)
        ]


class Service(Preparer):
    def __init__(self, settings: Settings, store: Store, fingerprinter: Fingerprinter) -> None:
        super().__init__(settings, fingerprinter)
        self.store = store
        self.checker = Checker(
            fingerprinter,
            store,
            settings.max_candidates,
            settings.boilerplate_min_documents,
            PassageFinder(passage_rules(settings)),
        )

    @classmethod
    def open(cls, settings: Settings) -> Service:
        fp = fingerprinter(settings)
        fp.warm_up()
        try:
            store = open_store(settings.store, fp.band_keys, fp.scheme, settings.resident)
        except SchemeMismatch as mismatch:
            # A store created before passages existed (no postings, and the
            # bands of that time unless LSH_THRESHOLD is set) keeps working
            # on its bands; passages are then found within the article and
            # for near-duplicate matches only. Otherwise the original
            # message, naming the store's scheme.
            store, fp = open_with_earlier_bands(settings, fp, mismatch)
        service = cls(settings, store, fp)
        if service.checker.passages is not None:
            service.checker.passages.warm_up()
        votes.warm_up()
        return service

    @property
    def store_is_local(self) -> bool:
        """The store is an embedded file: its calls never wait on a network."""
        return self.store.local

    def close(self) -> None:
        self.store.close()

    def check(
        self,
        text: str,
        fmt: Format = "text",
        threshold: float | None = None,
        containment_threshold: float | None = None,
        exclude_ids: Collection[str] = (),
        archive_filter: ArchiveFilter | None = None,
        deadline: Deadline = NEVER,
    ) -> list[ParagraphResult]:
        thresholds = self._thresholds(threshold, containment_threshold)
        paragraphs = self._split(text, fmt, "the text", deadline)
        # Stores nothing: the distinct fingerprints an ingest indexes are not made.
        prints = self._fingerprint(
            [p.text for p in paragraphs], deadline, self.checker.passages is not None, index_keys=False
        )
        return self.checker.check(paragraphs, thresholds, exclude_ids, archive_filter, prints, deadline)

    def _thresholds(self, similarity: float | None, containment: float | None) -> Thresholds:
        # Checked here and not only in the HTTP schemas: a threshold of 0
        # would report every candidate as a duplicate, whoever passed it.
        for name, value in (("threshold", similarity), ("containment threshold", containment)):
            if value is not None and not 0.0 < value <= 1.0:  # NaN fails too
                raise InvalidDocument(f"{name} must be above 0 and at most 1, not {value}")
        return Thresholds(
            similarity if similarity is not None else self.settings.similarity_threshold,
            containment if containment is not None else self.settings.containment_threshold,
        )

    def check_and_publish(
        self,
        doc: DocumentInput,
        force: bool = False,
        threshold: float | None = None,
        containment_threshold: float | None = None,
        exclude_ids: Collection[str] = (),
        archive_filter: ArchiveFilter | None = None,
        deadline: Deadline = NEVER,
    ) -> tuple[list[ParagraphResult], IngestResult | None]:
        """Check an article and, when it is clean (or ``force``), ingest it.

        Its own published version is excluded from the check, so re-publishing
        an edited article is not flagged against itself.
        """
        self._refuse_unfit([doc])
        paragraphs = self._split(doc.text, doc.format, f"document {doc.id!r}", deadline)
        texts = [p.text for p in paragraphs]
        prints = self._fingerprint(texts, deadline, self.checker.passages is not None)
        thresholds = self._thresholds(threshold, containment_threshold)
        exclude = {*exclude_ids, doc.id}
        results = self.checker.check(paragraphs, thresholds, exclude, archive_filter, prints, deadline)
        if any(r.duplicate for r in results) and not force:
            return results, None
        deadline.check("checking")  # the last point where nothing is written yet
        # The paragraphs and keys just checked are the ones stored: no second
        # split or fingerprinting.
        return results, self._write([_document(doc, texts, prints.keys)])[0]

    def ingest(self, docs: Sequence[DocumentInput], deadline: Deadline = NEVER) -> list[IngestResult]:
        """Ingest documents atomically: all of them or, on any error, none.
        Past the deadline nothing is written; once writing began it completes."""
        repeated = [doc_id for doc_id, n in Counter(d.id for d in docs).items() if n > 1]
        if repeated:
            raise InvalidDocument(f"document id {repeated[0]!r} appears more than once in the batch")
        prepared = self.prepare_many(docs, deadline)
        deadline.check("preparing the batch")
        return self._write(prepared)

    def _write(self, prepared: Sequence[NewDocument]) -> list[IngestResult]:
        statuses = self.store.put(prepared)
        return [IngestResult(p.id, s, len(p.paragraphs)) for p, s in zip(prepared, statuses, strict=True)]

    def allow(self, text: str, note: str = "") -> tuple[AllowEntry, WriteStatus]:
        """Add a phrase to the allowlist (idempotent)."""
        phrase = " ".join(text.split())
        analysis = self.fingerprinter.analyse([phrase])
        if not phrase or not self.fingerprinter.indexable(analysis)[0]:
            raise InvalidDocument(
                "phrase too short to allow: paragraphs this short are never matched against the archive"
            )
        entry = AllowEntry(allowlist.entry_id(analysis.normalised[0]), phrase, note)
        doc = DocumentInput(entry.id, phrase, "text", {"allowlist": True, "note": note})
        (result,) = self._write(self._prepare([doc]))
        return entry, result.status

    def allowlist(self, limit: int = 10_000) -> list[AllowEntry]:
        if limit < 1:
            raise InvalidDocument(f"allowlist limit must be at least 1, not {limit}")
        return [
            AllowEntry(doc.id, doc.paragraphs[0], str(doc.metadata.get("note", "")))
            for doc in self.store.first_paragraphs(allowlist.PREFIX, limit)
            if doc.paragraphs
        ]

    def disallow(self, entry_id: str) -> bool:
        return allowlist.is_entry(entry_id) and self.store.delete(entry_id)

    def get(self, document_id: str) -> StoredDocument | None:
        return self.store.get(document_id)

    def delete(self, document_id: str) -> bool:
        return self.store.delete(document_id)

    def stats(self) -> StoreStats:
        return self.store.stats()


# json.dumps(..., ensure_ascii=False, sort_keys=True) without building an
# encoder per call (the same text; 0.7 us a paragraph of bulk ingest).
_DIGESTED_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def _document(doc: DocumentInput, texts: Sequence[str], keys: Sequence[Keys]) -> NewDocument:
    """The stored form of a split and fingerprinted document; its digest
    covers text and metadata, so an equal digest means "unchanged"."""
    paragraphs = [NewParagraph(t, k) for t, k in zip(texts, keys, strict=True)]
    return NewDocument(doc.id, dict(doc.metadata), digest(texts, doc.metadata), paragraphs)


def digest(texts: Sequence[str], metadata: Mapping[str, Any]) -> str:
    """A stored document's digest, of its paragraph texts and metadata."""
    return hashlib.sha256(_DIGESTED_JSON.encode([list(texts), metadata]).encode()).hexdigest()


def passage_rules(settings: Settings) -> PassageRules:
    return PassageRules(
        Winnowing(settings.passage_kgram, settings.passage_window),
        settings.passage_min_tokens,
        settings.passage_max_postings,
    )
