"""Checking an article: each paragraph against the earlier paragraphs of the
same article and against the archive, with exact verification.

LSH only proposes candidates; every reported score is computed from the two
exact shingle sets, so a match above the threshold is never an estimate.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.engine.allowlist import is_entry
from app.engine.cancel import NEVER, Deadline
from app.engine.filters import ArchiveFilter
from app.engine.fingerprint import Fingerprinter, Prints
from app.engine.passages import Passage, PassageFinder, Seeds, ordered
from app.engine.votes import article_votes
from app.hashing import Analysis, overlap
from app.hashing.similarity import intersection_size
from app.hashing.tokens import Tokens
from app.store import Store, StoredParagraph
from app.store.base import CandidateRule, Keys, gather
from app.text import Paragraph

Source = Literal["article", "archive"]
Shingles = npt.NDArray[np.uint32]

# Within one article, a paragraph is verified against at most this many
# earlier distinct paragraphs (most shared bands first), each band remembers
# at most this many of them, and the closest few matches are listed: the work
# and the answer grow linearly with the article, even when it repeats one
# paragraph thousands of times. An exact repeat is never verified again: it
# names its first occurrence.
ARTICLE_CANDIDATES = 50
ARTICLE_MATCHES_LISTED = 5
# Matches listed per paragraph, closest first: each carries its text, so an
# unbounded list makes the answer grow with the archive, not the article.
MATCHES_LISTED = 20
# Archived paragraphs taken from one band's bucket when voting for candidates:
# a bucket thousands strong (one archived document repeating a paragraph
# shape) would otherwise make each paragraph's vote cost the archive's size.
ARCHIVE_REFS_PER_BAND = 64
_NO_KEYS: Keys = np.empty(0, dtype=np.int64)


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
    # Index of the first paragraph of the article with the same normalised
    # text, when this one is a later copy of it; and how many copies of that
    # text the article holds (itself included).
    repeat_of: int | None = None
    copies: int = 1
    # Runs of words shared with an earlier paragraph or an archived one
    # (app/engine/passages.py); they never change ``duplicate``. A copy has
    # none of its own: its match names the first occurrence, which has them.
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
        prints: Prints | None = None,
        deadline: Deadline = NEVER,
    ) -> list[ParagraphResult]:
        """``prints`` (the paragraphs' analysis, keys and tokens) when the
        caller already has them, so that they are not computed twice."""
        texts = [p.text for p in paragraphs]
        if prints is None or (self.passages is not None and prints.tokens is None):
            prints = self.fp.prints(texts, tokens=self.passages is not None)
        analysis = prints.analysis
        tokens = prints.tokens if self.passages else None
        deadline.check("fingerprinting")
        indexable = self.fp.indexable(analysis)
        results = [ParagraphResult(p, not ok) for p, ok in zip(paragraphs, indexable, strict=True)]
        self._within_article(results, analysis, indexable, prints.bands, limits, deadline)
        if self.passages and tokens is not None:
            originals = [i for i, r in enumerate(results) if r.repeat_of is None]
            for i, found in zip(
                originals, self.passages.within_article(paragraphs, tokens, originals), strict=True
            ):
                results[i].passages.extend(found)
            deadline.check("passages in the article")
        # A repeat's archive matches are its first occurrence's: looked up once.
        archive = [r.repeat_of is None for r in results]
        self._against_archive(
            results, prints, archive, limits, set(exclude_ids), archive_filter, deadline, tokens
        )
        for result in results:
            if result.repeat_of is not None:
                first = results[result.repeat_of]
                result.allowlisted = first.allowlisted
                result.boilerplate_documents = first.boilerplate_documents
            if len(result.matches) > 1:
                result.matches.sort(key=lambda m: (-m.similarity, -m.containment, m.source != "article"))
                del result.matches[MATCHES_LISTED:]
            if len(result.passages) > 1:
                result.passages = ordered(result.passages)
        return results

    def _within_article(
        self,
        results: list[ParagraphResult],
        analysis: Analysis,
        indexable: list[bool],
        keys: list[Keys],
        limits: Thresholds,
        deadline: Deadline = NEVER,
    ) -> None:
        first_of: dict[str, int] = {}
        for i, result in enumerate(results):
            normalised = analysis.normalised[i]
            first = first_of.setdefault(normalised, i) if normalised else i
            if first != i:
                # Short or long, an exact (normalised) repeat is a slip: it
                # names its first occurrence, verified once with it.
                result.repeat_of = first
                result.matches.append(self._article_match(results[first], 1.0, 1.0))
        copies = Counter(r.repeat_of for r in results if r.repeat_of is not None)
        for i, result in enumerate(results):
            result.copies = 1 + copies[i if result.repeat_of is None else result.repeat_of]
        # Band key -> earlier distinct paragraphs holding it (at most
        # ARTICLE_CANDIDATES each). Only keys that two paragraphs hold can
        # vote: found in one numpy pass, they are usually none.
        live = [i for i, r in enumerate(results) if r.repeat_of is None and indexable[i]]
        shared = _shared_keys([keys[i] for i in live])
        seen_keys: dict[int, list[int]] = {}
        for i in live if shared else ():
            result = results[i]
            deadline.check("verification in the article")
            paragraph_keys = [key for key in keys[i].tolist() if key in shared]
            if not paragraph_keys:
                continue
            votes: Counter[int] = Counter()
            for key in paragraph_keys:
                votes.update(seen_keys.get(key, ()))
            found = []
            for j, _ in votes.most_common(ARTICLE_CANDIDATES):
                score = overlap(analysis.shingles[i], analysis.shingles[j])
                if _passes(*score, limits):
                    found.append(self._article_match(results[j], *score))
            found.sort(key=lambda m: (-m.similarity, -m.containment, m.paragraph_index))
            result.matches.extend(found[:ARTICLE_MATCHES_LISTED])
            for key in paragraph_keys:
                bucket = seen_keys.setdefault(key, [])
                if len(bucket) < ARTICLE_CANDIDATES:
                    bucket.append(i)

    @staticmethod
    def _article_match(earlier: ParagraphResult, similarity: float, containment: float) -> Match:
        p = earlier.paragraph
        return Match("article", None, p.index, round(similarity, 6), round(containment, 6), p.text)

    def _against_archive(
        self,
        results: list[ParagraphResult],
        prints: Prints,
        archive: list[bool],
        limits: Thresholds,
        exclude: set[str],
        archive_filter: ArchiveFilter | None,
        deadline: Deadline = NEVER,
        tokens: list[Tokens] | None = None,
    ) -> None:
        # The index keys (bands and passage fingerprints) of the paragraphs
        # looked up (``archive``: not a repeat), together in one store call.
        analysis = prints.analysis
        nonempty = [k for k, looked_up in zip(prints.keys, archive, strict=True) if looked_up and k.size]
        if not nonempty:
            return
        bands = [k if looked_up else _NO_KEYS for k, looked_up in zip(prints.bands, archive, strict=True)]
        # Index keys are the band keys, then the passage fingerprints: one
        # occurrence per position, each a vote (CandidateRule.min_votes).
        if prints.winnowed is None:
            postings = [
                k[b.size :] if looked_up else _NO_KEYS
                for k, b, looked_up in zip(prints.keys, prints.bands, archive, strict=True)
            ]
        else:
            postings = [
                w[0] if looked_up else _NO_KEYS for w, looked_up in zip(prints.winnowed, archive, strict=True)
            ]
        # One store call (one round trip per Redis master) answers the hits
        # and every candidate paragraph verified below (CandidateRule); an
        # embedded store is asked for the chosen rows alone (``gather``).
        rules = self.passages.rules if self.passages else None
        hits, fetch = gather(
            self.store,
            np.concatenate(bands),
            np.concatenate(postings),
            CandidateRule(ARCHIVE_REFS_PER_BAND, rules.max_postings, rules.min_seeds)
            if rules
            else CandidateRule(ARCHIVE_REFS_PER_BAND, 0),
        )
        deadline.check("archive lookup")
        # Passage seeds need the article's tokens and winnowed fingerprints.
        rules = self.passages.rules if self.passages is not None and tokens is not None else None
        winnowed = (
            None
            if rules is None or prints.winnowed is None
            else [w if looked_up else None for w, looked_up in zip(prints.winnowed, archive, strict=True)]
        )
        votes = article_votes(hits, bands, winnowed, ARCHIVE_REFS_PER_BAND, self.max_candidates, rules)
        seeds = votes.seeds
        wanted: dict[int, list[int]] = {}
        for i, refs in enumerate(votes.wanted):
            # Paragraphs sharing long runs of words are verified too: a
            # paragraph that lost most of its sentences has a Jaccard index
            # the bands rarely propose, but its containment is exact.
            if seeds[i].refs and len(refs) < self.max_candidates:
                voted = set(votes.voted[i])
                extra = [r for r in seeds[i].refs if r not in voted]
                refs = refs + extra[: self.max_candidates - len(refs)]
            wanted[i] = refs
        deadline.check("archive candidates")
        proposed = {r for refs in wanted.values() for r in refs}
        seeded = {r for s in seeds for r in s.refs}
        chosen = sorted(proposed | seeded)
        rows = fetch(chosen) if chosen else {}
        stored = {r: p for r in chosen if (p := rows.get(r)) is not None and p.document_id not in exclude}
        if not stored:
            return
        order = [r for r in stored if r in proposed]
        stored_sets = dict(zip(order, self.fp.analyse([stored[r].text for r in order]).shingles, strict=True))
        deadline.check("archive candidates")
        matched: dict[int, list[int]] = {}
        for i, refs in wanted.items():
            deadline.check("verification against the archive")
            found = self._verified(
                analysis.shingles[i], [r for r in refs if r in stored], stored, stored_sets, limits
            )
            if found is None:
                results[i].allowlisted = True
                continue
            documents = len({m.document_id for m, _ in found})
            if self.boilerplate_min_documents and documents >= self.boilerplate_min_documents:
                # Taglines, agency credits, newsletter pitches: one line of
                # context instead of dozens of matches nobody needs to read.
                # Counted before the metadata filters (boilerplate is a
                # property of the archive), after exclude_ids.
                results[i].boilerplate_documents = documents
            else:
                kept = [
                    (m, ref)
                    for m, ref in found
                    if archive_filter is None or archive_filter.accepts(stored[ref].metadata)
                ]
                results[i].matches.extend(m for m, _ in kept)
                matched[i] = [ref for _, ref in kept]
        deadline.check("verification against the archive")
        self._archive_passages(results, tokens, seeds, matched, stored, archive_filter)

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
        refs = {r for i, s in enumerate(seeds) for r in (*s.refs, *matched.get(i, ()))}
        wanted = sorted(refs & usable.keys())
        if not wanted:
            return
        stored_tokens = dict(zip(wanted, self.passages.tokens([usable[r].text for r in wanted]), strict=True))
        for i, result in enumerate(results):
            if result.allowlisted or result.boilerplate or result.repeat_of is not None:
                continue
            result.passages.extend(
                self.passages.against_archive(
                    result.paragraph, tokens[i], seeds[i], matched.get(i, ()), usable, stored_tokens
                )
            )

    def _verified(
        self,
        shingles: Shingles,
        refs: list[int],
        stored: dict[int, StoredParagraph],
        stored_sets: dict[int, Shingles],
        limits: Thresholds,
    ) -> list[tuple[Match, int]] | None:
        """The archive matches of one paragraph; None when it is allowlisted.

        An allowed phrase only ever excuses itself: its shingles are taken out
        of the paragraph and of each candidate, and what remains is verified
        as usual (so a copied paragraph with the phrase appended is still a
        copy). The paragraph is allowlisted when what remains is too short to
        be a paragraph of its own (the phrase, lightly edited) or matches
        nothing. Matches found that way are scored without the phrase.
        """
        entries = [r for r in refs if is_entry(stored[r].document_id)]
        if not entries:  # no allowlist phrase among the candidates (nearly always)
            return self._matches(shingles, refs, stored, stored_sets, limits)
        allowed = [r for r in entries if _passes(*overlap(shingles, stored_sets[r]), limits)]
        others = [r for r in refs if not is_entry(stored[r].document_id)]
        if not allowed:
            return self._matches(shingles, others, stored, stored_sets, limits)
        phrase = functools.reduce(np.union1d, [stored_sets[r] for r in allowed])
        rest = np.setdiff1d(shingles, phrase, assume_unique=True)
        if rest.size < self.fp.min_shingles:
            return None
        beyond = {r: np.setdiff1d(stored_sets[r], phrase, assume_unique=True) for r in others}
        # What the two share beyond the phrase must itself be a paragraph's
        # worth, not a few shingles around an edit of the phrase.
        found = [
            (m, r)
            for m, r in self._matches(rest, others, stored, beyond, limits)
            if int(intersection_size(rest, beyond[r])) >= self.fp.min_shingles
        ]
        return found or None

    @staticmethod
    def _matches(
        shingles: Shingles,
        refs: list[int],
        stored: dict[int, StoredParagraph],
        stored_sets: dict[int, Shingles],
        limits: Thresholds,
    ) -> list[tuple[Match, int]]:
        found = []
        for ref in refs:
            score = overlap(shingles, stored_sets[ref])
            if _passes(*score, limits):
                found.append((_archive_match(stored[ref], *score), ref))
        return found


def _shared_keys(keys: list[Keys]) -> set[int]:
    """The keys held more than once among these arrays."""
    if len(keys) < 2:
        return set()
    ranked = np.sort(np.concatenate(keys))
    return set(ranked[1:][ranked[1:] == ranked[:-1]].tolist())


def _archive_match(p: StoredParagraph, similarity: float, containment: float) -> Match:
    return Match("archive", p.document_id, p.index, round(similarity, 6), round(containment, 6), p.text)
