"""Passages: runs of words a paragraph shares with an earlier paragraph of
the article or with an archived paragraph, with their character spans.

The archive side rides on the paragraph index: each indexed paragraph's
keys are its LSH band keys followed by the winnowed fingerprints of its
token k-grams (``Fingerprinter.index_keys``), so postings are written,
replaced and deleted with the paragraph in the same atomic store write, and
the check's one lookup answers bands and fingerprints together. A posting
holds no position: the candidate's text is fetched anyway (for the
passage's source text and offsets), and aligning needs all of its tokens,
which are recomputed from it in one compiled pass.

A fingerprint whose postings list more than ``max_postings`` paragraphs is
a formula of the archive ("a déclaré le porte-parole du ministère"): it
proposes no candidate, and a passage must cover at least one fingerprint
that is not one, unless the two paragraphs are a reported near-duplicate
match (then the passage shows exactly which words are shared).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.engine.align import Span, align
from app.hashing.tokens import Tokens, tokenise
from app.hashing.winnow import Winnowing, kgram_hashes
from app.store.base import StoredParagraph
from app.text import Paragraph

Source = Literal["article", "archive"]
# Earlier paragraphs of the article a k-gram remembers, and that a paragraph
# is aligned with (see within_article).
ARTICLE_POSTINGS = 50
ARTICLE_SOURCES = 5
# k-grams two paragraphs must share to be aligned: a passage scoring 12 or
# more holds at least 8 4-grams (one run of 12: 9; two runs over a gap: 8),
# so pairs sharing a common 4-word phrase or two are not aligned at all.
# Lowered for a lower minimum score (see _earlier_sharing).
ARTICLE_MIN_SHARED = 4


@dataclass(frozen=True)
class PassageRules:
    scheme: Winnowing
    min_tokens: int  # equal tokens in a passage, at least
    max_postings: int  # a fingerprint indexed for more paragraphs is not a seed
    max_gap: int = 3  # tokens skipped on either side inside one passage
    max_sources: int = 20  # archive paragraphs aligned per checked paragraph, most shared first
    # Rare fingerprints a candidate must share. Two: any 15-token quote with
    # one word changed still shares two (its unchanged runs hold at least
    # two disjoint windows), while most single shared k-grams are chance.
    min_seeds: int = 2


@dataclass(frozen=True)
class Passage:
    start: int  # offsets into the submitted body, like the paragraph's own
    end: int
    source: Source
    document_id: str | None
    paragraph_index: int
    source_start: int  # offsets into the source paragraph's text
    source_end: int
    text: str  # the paragraph text's words (for plain text: body[start:end])
    source_text: str


def text_offsets(paragraph: Paragraph, start: int, end: int) -> tuple[int, int]:
    """The body span of ``paragraph.text[start:end]`` (``end > start``):
    plain text is the body between the paragraph's offsets; HTML says where
    each character comes from (a character reference, markup in between)."""
    if paragraph.offsets is not None:
        return int(paragraph.offsets.starts[start]), int(paragraph.offsets.ends[end - 1])
    return paragraph.start + start, paragraph.start + end


@dataclass(frozen=True)
class Seeds:
    """One checked paragraph's archive candidates from the fingerprint
    postings, and the query positions of the rare fingerprints each shares."""

    refs: list[int]
    anchors: dict[int, npt.NDArray[np.intp]]


NO_SEEDS = Seeds([], {})


class PassageFinder:
    def __init__(self, rules: PassageRules) -> None:
        self.rules = rules

    def tokens(self, texts: Sequence[str]) -> list[Tokens]:
        return tokenise(texts)

    def warm_up(self) -> None:
        """Load the compiled tokeniser and alignment before the first check."""
        text = "warm up the passage kernels with words repeated twice over"
        query, source = self.tokens([text, text])
        self._align(query, source, None)
        kgram_hashes(query.ids, self.rules.scheme.kgram)  # repeats within the article

    def _align(self, query: Tokens, source: Tokens, anchors: npt.NDArray[np.intp] | None) -> list[Span]:
        r = self.rules
        return align(query.ids, source.ids, r.scheme.kgram, r.min_tokens, r.max_gap, anchors)

    def _passage(
        self,
        paragraph: Paragraph,
        query: Tokens,
        span: Span,
        source: Source,
        document_id: str | None,
        index: int,
        source_text: str,
        source_tokens: Tokens,
    ) -> Passage:
        a, b = int(query.starts[span.q0]), int(query.ends[span.q1 - 1])
        sa, sb = int(source_tokens.starts[span.s0]), int(source_tokens.ends[span.s1 - 1])
        start, end = text_offsets(paragraph, a, b)
        return Passage(
            start, end, source, document_id, index, sa, sb, paragraph.text[a:b], source_text[sa:sb]
        )

    # within the article

    def within_article(
        self, paragraphs: Sequence[Paragraph], tokens: Sequence[Tokens], among: Sequence[int]
    ) -> list[list[Passage]]:
        """Passages each paragraph of ``among`` (indices, ascending) shares
        with an earlier one of them; a list per paragraph of ``among``.

        Bounded like the archive side, so that a long article repeating one
        sentence in every paragraph stays linear: a k-gram remembers its
        first ``ARTICLE_POSTINGS`` paragraphs, and a paragraph is aligned
        with the ``ARTICLE_SOURCES`` earlier ones sharing most k-grams."""
        out: list[list[Passage]] = []
        chosen = [tokens[i] for i in among]
        k = self.rules.scheme.kgram
        least = max(1, min(ARTICLE_MIN_SHARED, self.rules.min_tokens - 2 * k + 2))
        for i, earlier in zip(among, _earlier_sharing(chosen, k, least), strict=True):
            paragraph, query = paragraphs[i], tokens[i]
            found: list[Passage] = []
            for j in (among[n] for n in earlier):
                source = paragraphs[j]
                for span in self._align(query, tokens[j], None):
                    found.append(
                        self._passage(
                            paragraph, query, span, "article", None, source.index, source.text, tokens[j]
                        )
                    )
            out.append(found)
        return out

    # against the archive

    def against_archive(
        self,
        paragraph: Paragraph,
        query: Tokens,
        seeds: Seeds,
        matched: Collection[int],
        stored: dict[int, StoredParagraph],
        stored_tokens: dict[int, Tokens],
    ) -> list[Passage]:
        """Passages shared with the seeded candidates (anchored on a rare
        fingerprint) and with the paragraph's near-duplicate matches (any seed)."""
        found: list[Passage] = []
        for ref in sorted(set(seeds.refs) | set(matched)):
            if ref not in stored or ref not in stored_tokens:
                continue
            anchors = None if ref in matched else seeds.anchors.get(ref)
            if anchors is None and ref not in matched:
                continue
            source = stored[ref]
            for span in self._align(query, stored_tokens[ref], anchors):
                found.append(
                    self._passage(
                        paragraph,
                        query,
                        span,
                        "archive",
                        source.document_id,
                        source.index,
                        source.text,
                        stored_tokens[ref],
                    )
                )
        return found


def _earlier_sharing(tokens: Sequence[Tokens], k: int, least: int) -> list[list[int]]:
    """Per paragraph, the earlier ones (at most ``ARTICLE_SOURCES``, those
    sharing most) holding ``least`` of its k-grams or more; a k-gram counts for its first
    ``ARTICLE_POSTINGS`` paragraphs. Sorted in one pass: most k-grams of an
    article occur once, and only those shared cost a Python step."""
    grams = [kgram_hashes(t.ids, k) for t in tokens]
    values = np.concatenate(grams) if grams else np.empty(0, dtype=np.uint64)
    ranked = np.sort(values)
    if not np.any(ranked[1:] == ranked[:-1]):
        # No k-gram occurs twice (most articles): nothing is shared.
        return [[] for _ in tokens]
    owners = np.repeat(np.arange(len(grams)), [g.size for g in grams])
    order = np.lexsort((owners, values))
    values, owners = values[order], owners[order]
    first = np.r_[True, (values[1:] != values[:-1]) | (owners[1:] != owners[:-1])] if values.size else []
    values, owners = values[first], owners[first]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]) if values.size else np.empty(0, int)
    ends = np.r_[starts[1:], values.size]
    several = ends - starts >= 2
    shared: list[Counter[int]] = [Counter() for _ in tokens]
    for a, b in zip(starts[several].tolist(), ends[several].tolist(), strict=True):
        holders = owners[a : min(b, a + ARTICLE_POSTINGS)].tolist()
        for n, later in enumerate(holders[1:], 1):
            shared[later].update(holders[:n])
        for later in owners[a + ARTICLE_POSTINGS : b].tolist():
            shared[later].update(holders)
    return [sorted(j for j, n in counts.most_common(ARTICLE_SOURCES) if n >= least) for counts in shared]


def ordered(passages: list[Passage]) -> list[Passage]:
    """Passages in reading order; the article's own first at equal starts."""
    return sorted(
        passages, key=lambda p: (p.start, p.source != "article", p.document_id or "", p.paragraph_index)
    )
