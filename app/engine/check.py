"""Checking an article: each paragraph against the earlier paragraphs of the
same article and against the archive, with exact verification.

LSH only proposes candidates; every reported score is computed from the two
exact shingle sets, so a match above the threshold is never an estimate.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from app.engine.allowlist import is_entry
from app.engine.filters import ArchiveFilter
from app.engine.fingerprint import Fingerprinter
from app.hashing import Analysis, overlap
from app.store import Store, StoredParagraph
from app.store.base import Keys
from app.text import Paragraph

Source = Literal["article", "archive"]


@dataclass(frozen=True)
class Thresholds:
    similarity: float
    containment: float


@dataclass(frozen=True)
class Match:
    source: Source
    document_id: str | None
    paragraph_index: int
    similarity: float
    containment: float
    text: str


@dataclass
class ParagraphResult:
    paragraph: Paragraph
    short: bool
    matches: list[Match] = field(default_factory=list)
    # Archived documents holding this paragraph when it is boilerplate (their
    # matches are then left out), else 0.
    boilerplate_documents: int = 0
    # It matches a phrase of the desk's allowlist: no archive match reported.
    allowlisted: bool = False

    @property
    def duplicate(self) -> bool:
        return bool(self.matches)

    @property
    def boilerplate(self) -> bool:
        return self.boilerplate_documents > 0


def _passes(similarity: float, containment: float, limits: Thresholds) -> bool:
    return similarity >= limits.similarity or containment >= limits.containment


class Checker:
    def __init__(
        self,
        fingerprinter: Fingerprinter,
        store: Store,
        max_candidates: int,
        boilerplate_min_documents: int = 0,
    ) -> None:
        self.fp = fingerprinter
        self.store = store
        self.max_candidates = max_candidates
        self.boilerplate_min_documents = boilerplate_min_documents

    def check(
        self,
        paragraphs: list[Paragraph],
        limits: Thresholds,
        exclude_ids: Collection[str] = (),
        archive_filter: ArchiveFilter | None = None,
        fingerprints: tuple[Analysis, list[Keys]] | None = None,
    ) -> list[ParagraphResult]:
        """``fingerprints`` (the paragraphs' analysis and band keys) when the
        caller already has them, so that they are not computed twice."""
        if fingerprints is None:
            analysis = self.fp.analyse([p.text for p in paragraphs])
            keys = self.fp.keys_for(analysis)
        else:
            analysis, keys = fingerprints
        indexable = self.fp.indexable(analysis)
        results = [ParagraphResult(p, not ok) for p, ok in zip(paragraphs, indexable, strict=True)]
        self._within_article(results, analysis, indexable, keys, limits)
        self._against_archive(results, analysis, keys, limits, set(exclude_ids), archive_filter)
        for result in results:
            result.matches.sort(key=lambda m: (-m.similarity, -m.containment, m.source != "article"))
        return results

    def _within_article(
        self,
        results: list[ParagraphResult],
        analysis: Analysis,
        indexable: list[bool],
        keys: list[Keys],
        limits: Thresholds,
    ) -> None:
        seen_keys: dict[int, list[int]] = {}
        seen_text: dict[str, int] = {}
        for i, result in enumerate(results):
            normalised = analysis.normalised[i]
            if not indexable[i]:
                # Short paragraphs only match an exact (normalised) repeat:
                # a one-line tagline repeated in the same article is a slip.
                first = seen_text.get(normalised) if normalised else None
                if first is not None:
                    result.matches.append(self._article_match(results[first], 1.0, 1.0))
                seen_text.setdefault(normalised, i)
                continue
            candidates = sorted({j for key in keys[i].tolist() for j in seen_keys.get(key, ())})
            for j in candidates:
                score = overlap(analysis.shingles[i], analysis.shingles[j])
                if _passes(*score, limits):
                    result.matches.append(self._article_match(results[j], *score))
            for key in keys[i].tolist():
                seen_keys.setdefault(key, []).append(i)
            seen_text.setdefault(normalised, i)

    @staticmethod
    def _article_match(earlier: ParagraphResult, similarity: float, containment: float) -> Match:
        p = earlier.paragraph
        return Match("article", None, p.index, round(similarity, 6), round(containment, 6), p.text)

    def _against_archive(
        self,
        results: list[ParagraphResult],
        analysis: Analysis,
        keys: list[Keys],
        limits: Thresholds,
        exclude: set[str],
        archive_filter: ArchiveFilter | None,
    ) -> None:
        nonempty = [k for k in keys if k.size]
        if not nonempty:
            return
        hits = self.store.lookup(np.concatenate(nonempty))
        wanted: dict[int, list[int]] = {}
        for i, paragraph_keys in enumerate(keys):
            votes: dict[int, int] = {}
            for key in paragraph_keys.tolist():
                for ref in hits.get(key, ()):
                    votes[ref] = votes.get(ref, 0) + 1
            # Most shared bands first: under a flood of candidates (boilerplate)
            # the closest ones are still verified.
            if len(votes) > self.max_candidates:
                wanted[i] = heapq.nlargest(self.max_candidates, votes, key=votes.__getitem__)
            else:
                wanted[i] = list(votes)
        stored = self.store.paragraphs(sorted({r for refs in wanted.values() for r in refs}))
        stored = {r: p for r, p in stored.items() if p.document_id not in exclude}
        if not stored:
            return
        order = list(stored)
        stored_sets = dict(zip(order, self.fp.analyse([stored[r].text for r in order]).shingles, strict=True))
        for i, refs in wanted.items():
            found = []
            for ref in refs:
                if ref not in stored:
                    continue
                score = overlap(analysis.shingles[i], stored_sets[ref])
                if _passes(*score, limits):
                    found.append((_archive_match(stored[ref], *score), ref))
            if any(is_entry(m.document_id) for m, _ in found):
                results[i].allowlisted = True
                continue
            documents = len({m.document_id for m, _ in found})
            if self.boilerplate_min_documents and documents >= self.boilerplate_min_documents:
                # Taglines, agency credits, newsletter pitches: one line of
                # context instead of dozens of matches nobody needs to read.
                # Counted before the metadata filters (boilerplate is a
                # property of the archive), after exclude_ids.
                results[i].boilerplate_documents = documents
            elif archive_filter is None:
                results[i].matches.extend(m for m, _ in found)
            else:
                results[i].matches.extend(
                    m for m, ref in found if archive_filter.accepts(stored[ref].metadata)
                )


def _archive_match(p: StoredParagraph, similarity: float, containment: float) -> Match:
    return Match("archive", p.document_id, p.index, round(similarity, 6), round(containment, 6), p.text)
