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
from app.engine.passages import Passage, PassageFinder, Seeds, ordered
from app.hashing import Analysis, overlap
from app.hashing.tokens import Tokens
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
    # Runs of words shared with an earlier paragraph or an archived one
    # (app/engine/passages.py); they never change ``duplicate``.
    passages: list[Passage] = field(default_factory=list)

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
        passages: PassageFinder | None = None,
    ) -> None:
        self.fp = fingerprinter
        self.passages = passages
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
        texts = [p.text for p in paragraphs]
        if fingerprints is None:
            analysis = self.fp.analyse(texts)
            index_keys = self.fp.index_keys(texts, analysis)
        else:
            analysis, index_keys = fingerprints
        split = [self.fp.split_keys(k) for k in index_keys]
        keys = [bands for bands, _ in split]
        indexable = self.fp.indexable(analysis)
        results = [ParagraphResult(p, not ok) for p, ok in zip(paragraphs, indexable, strict=True)]
        tokens = self.passages.tokens(texts) if self.passages else None
        self._within_article(results, analysis, indexable, keys, limits)
        if self.passages and tokens is not None:
            for result, found in zip(results, self.passages.within_article(paragraphs, tokens), strict=True):
                result.passages.extend(found)
        self._against_archive(results, analysis, index_keys, limits, set(exclude_ids), archive_filter, tokens)
        for result in results:
            result.matches.sort(key=lambda m: (-m.similarity, -m.containment, m.source != "article"))
            result.passages = ordered(result.passages)
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
        tokens: list[Tokens] | None = None,
    ) -> None:
        # ``keys``: index keys (bands and passage fingerprints), looked up
        # together in one store call.
        nonempty = [k for k in keys if k.size]
        if not nonempty:
            return
        hits = self.store.lookup(np.concatenate(nonempty))
        split = [self.fp.split_keys(k) for k in keys]
        seeds = self._passage_seeds(split, hits, tokens)
        wanted: dict[int, list[int]] = {}
        for i, (paragraph_keys, _) in enumerate(split):
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
        proposed = {r for refs in wanted.values() for r in refs}
        seeded = {r for s in seeds for r in s.refs}
        # One round trip for band and passage candidates alike.
        stored = self.store.paragraphs(sorted(proposed | seeded))
        stored = {r: p for r, p in stored.items() if p.document_id not in exclude}
        if not stored:
            return
        order = [r for r in stored if r in proposed]
        stored_sets = dict(zip(order, self.fp.analyse([stored[r].text for r in order]).shingles, strict=True))
        matched: dict[int, list[int]] = {}
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
                matched[i] = [ref for _, ref in found]
            else:
                results[i].matches.extend(
                    m for m, ref in found if archive_filter.accepts(stored[ref].metadata)
                )
                matched[i] = [ref for m, ref in found if archive_filter.accepts(stored[ref].metadata)]
        self._archive_passages(results, tokens, seeds, matched, stored, archive_filter)

    def _passage_seeds(
        self, split: list[tuple[Keys, Keys]], hits: dict[int, list[int]], tokens: list[Tokens] | None
    ) -> list[Seeds]:
        if self.passages is None or tokens is None:
            return [Seeds([], {}) for _ in split]
        return [self.passages.seeds(t, fps, hits) for t, (_, fps) in zip(tokens, split, strict=True)]

    def _archive_passages(
        self,
        results: list[ParagraphResult],
        tokens: list[Tokens] | None,
        seeds: list[Seeds],
        matched: dict[int, list[int]],
        stored: dict[int, StoredParagraph],
        archive_filter: ArchiveFilter | None,
    ) -> None:
        """Passages of the archive, from the candidates already fetched.
        Allowlisted and boilerplate paragraphs get none, like matches; the
        metadata filters and allowlist entries apply to sources too."""
        if self.passages is None or tokens is None:
            return
        usable = {
            r: p
            for r, p in stored.items()
            if not is_entry(p.document_id) and (archive_filter is None or archive_filter.accepts(p.metadata))
        }
        wanted = sorted(
            {r for i, s in enumerate(seeds) for r in (*s.refs, *matched.get(i, ())) if r in usable}
        )
        if not wanted:
            return
        stored_tokens = dict(zip(wanted, self.passages.tokens([usable[r].text for r in wanted]), strict=True))
        for i, result in enumerate(results):
            if result.allowlisted or result.boilerplate:
                continue
            result.passages.extend(
                self.passages.against_archive(
                    result.paragraph, tokens[i], seeds[i], matched.get(i, ()), usable, stored_tokens
                )
            )


def _archive_match(p: StoredParagraph, similarity: float, containment: float) -> Match:
    return Match("archive", p.document_id, p.index, round(similarity, 6), round(containment, 6), p.text)
