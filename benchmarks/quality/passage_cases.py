"""Cases of passage-level reuse with known spans, built from real paragraphs.

Ground truth comes from construction (we know where a quote was put and where
it came from) and from the independent reference tokenizer of
``corpus.reference_tokens``: a host paragraph counts as unseen only when it
shares no run of ``UNSEEN_RUN`` tokens with the archive, and a quoted passage
is only taken from the archive when its runs occur in that one archived
paragraph, so that the expected source is unambiguous.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from benchmarks.quality.corpus import (
    NO_SPACE_LANGS,
    Doc,
    overlap,
    reference_shingles,
    reference_tokens,
    sentences,
)

UNSEEN_RUN = 8  # a paragraph sharing no run this long with the archive is "unseen"
PASSAGE_TOKENS = (15, 45)  # the range for an inserted quote (characters for Chinese)
_WORD = re.compile(r"[^\W\d_]{3,}")
_CJK_PAIR = re.compile(r"[\u4e00-\u9fff]{2}")

Span = tuple[int, int]
Ref = tuple[str, int]  # (document id, paragraph index) or ("", index) inside the article


@dataclass
class Expected:
    """A passage the service should report in one checked paragraph."""

    source: str  # "archive" or "article"
    ref: Ref
    span: Span  # in the checked paragraph's text
    source_span: Span | None = None  # in the source paragraph's text


@dataclass
class Para:
    text: str
    expected: list[Expected] = field(default_factory=list)
    # Source paragraphs that must be named by a match or a passage.
    must_name: list[tuple[str, Ref]] = field(default_factory=list)
    negative: bool = False  # unseen: any archive match or passage is a false positive
    any_name: bool = False  # one of ``must_name`` is enough (several archived copies)


@dataclass
class Case:
    kind: str
    lang: str
    paragraphs: list[Para]


def ngrams(tokens: list[str], n: int = UNSEEN_RUN) -> Iterator[int]:
    for i in range(len(tokens) - n + 1):
        yield hash(tuple(tokens[i : i + n]))


class RunIndex:
    """Which archived paragraphs hold each run of ``UNSEEN_RUN`` reference tokens."""

    def __init__(self, archive: Iterable[Doc]) -> None:
        self.holders: dict[int, set[Ref]] = {}
        for doc in archive:
            for i, text in enumerate(doc.paragraphs):
                for gram in ngrams(reference_tokens(text)):
                    self.holders.setdefault(gram, set()).add((doc.id, i))

    def shares_run(self, text: str) -> bool:
        return any(g in self.holders for g in ngrams(reference_tokens(text)))

    def only_in(self, text: str, ref: Ref) -> bool:
        grams = list(ngrams(reference_tokens(text)))
        return bool(grams) and all(self.holders.get(g) == {ref} for g in grams)

    def sharing(self, text: str) -> set[Ref]:
        return {r for g in ngrams(reference_tokens(text)) for r in self.holders.get(g, ())}


def joiner(lang: str) -> str:
    return "" if lang in NO_SPACE_LANGS else " "


def sentence_spans(text: str) -> list[Span]:
    """Each sentence's span in ``text`` (``sentences`` strips them)."""
    spans, at = [], 0
    for sentence in sentences(text):
        start = text.index(sentence, at)
        spans.append((start, start + len(sentence)))
        at = start + len(sentence)
    return spans


def quotes(doc: Doc, index: RunIndex) -> Iterator[tuple[int, Span]]:
    """Runs of 1-2 consecutive sentences of an archived paragraph, 15-45
    tokens long, whose text occurs in no other archived paragraph."""
    low, high = PASSAGE_TOKENS
    for p, text in enumerate(doc.paragraphs):
        spans = sentence_spans(text)
        for i in range(len(spans)):
            for j in (i, i + 1):
                if j >= len(spans):
                    continue
                span = (spans[i][0], spans[j][1])
                quoted = text[span[0] : span[1]]
                if low <= len(reference_tokens(quoted)) <= high and index.only_in(quoted, (doc.id, p)):
                    yield p, span


def change_one_word(text: str, lang: str, vocabulary: list[str], rng: random.Random) -> str | None:
    pattern = _CJK_PAIR if lang in NO_SPACE_LANGS else _WORD
    spots = list(pattern.finditer(text))
    if not spots:
        return None
    m = rng.choice(spots)
    new = "".join(rng.sample(vocabulary, 2)) if lang in NO_SPACE_LANGS else rng.choice(vocabulary)
    return text[: m.start()] + new + text[m.end() :]


def insert_quote(host: str, quote: str, lang: str, rng: random.Random) -> tuple[str, Span]:
    """``quote`` put between two sentences of ``host``; returns the new
    paragraph and the quote's span in it."""
    spans = sentence_spans(host)
    cut = spans[rng.randrange(len(spans))][1] if spans and rng.random() < 0.7 else 0
    sep = joiner(lang)
    before, after = host[:cut].rstrip(), host[cut:].lstrip()
    head = before + sep if before else ""
    text = head + quote + (sep + after if after else "")
    return text, (len(head), len(head) + len(quote))


class Builder:
    """Cases of every kind for one language, from an archive (ingested) and
    held-out documents (never ingested)."""

    def __init__(self, lang: str, archive: list[Doc], held_out: list[Doc], seed: int) -> None:
        self.lang = lang
        self.archive = archive
        self.index = RunIndex(archive)
        self.rng = random.Random(seed)
        self.hosts = [
            text
            for doc in held_out
            for text in doc.paragraphs
            if 20 <= len(reference_tokens(text)) <= 160 and not self.index.shares_run(text)
        ]
        self.rng.shuffle(self.hosts)
        words: Counter[str] = Counter()
        for doc in held_out[:200]:
            for text in doc.paragraphs:
                words.update(_CJK_PAIR.findall(text) if lang in NO_SPACE_LANGS else _WORD.findall(text))
        self.vocabulary = [w for w, _ in words.most_common(3000)] or ["mot"]
        if lang in NO_SPACE_LANGS:
            self.vocabulary = sorted({c for w in self.vocabulary for c in w})
        self.quotes = [(doc, p, span) for doc in archive for p, span in quotes(doc, self.index)]
        self.rng.shuffle(self.quotes)

    def _host(self) -> str:
        host = self.hosts.pop()
        self.hosts.insert(0, host)  # reused round-robin when a sample is large
        return host

    def inserted(self, n: int, changed: bool) -> list[Case]:
        kind = "quote_word_changed" if changed else "quote_verbatim"
        cases = []
        for doc, p, span in self.quotes[:n] if not changed else self.quotes[-n:]:
            quote = doc.paragraphs[p][span[0] : span[1]]
            if changed:
                edited = change_one_word(quote, self.lang, self.vocabulary, self.rng)
                if edited is None:
                    continue
                quote = edited
            text, where = insert_quote(self._host(), quote, self.lang, self.rng)
            expected = Expected("archive", (doc.id, p), where, span)
            cases.append(Case(kind, self.lang, [Para(text, [expected])]))
        return cases

    def merged(self, n: int) -> list[Case]:
        cases = []
        for doc in self.archive:
            pairs = [
                i
                for i in range(len(doc.paragraphs) - 1)
                if min(len(reference_tokens(t)) for t in doc.paragraphs[i : i + 2]) >= 20
            ]
            if pairs:
                i = self.rng.choice(pairs)
                text = joiner(self.lang).join(doc.paragraphs[i : i + 2])
                names = [("archive", (doc.id, i)), ("archive", (doc.id, i + 1))]
                cases.append(Case("merged", self.lang, [Para(text, must_name=names)]))
            if len(cases) >= n:
                break
        return cases

    def split(self, n: int) -> list[Case]:
        cases = []
        for doc in self.archive:
            for p, text in enumerate(doc.paragraphs):
                spans = sentence_spans(text)
                cuts = [
                    s[1]
                    for s in spans[:-1]
                    if min(len(reference_tokens(text[: s[1]])), len(reference_tokens(text[s[1] :]))) >= 15
                ]
                if cuts:
                    cut = self.rng.choice(cuts)
                    halves = [text[:cut].strip(), text[cut:].strip()]
                    names = [("archive", (doc.id, p))]
                    cases.append(Case("split", self.lang, [Para(h, must_name=list(names)) for h in halves]))
                    break
            if len(cases) >= n:
                break
        return cases

    def repeated_sentence(self, n: int) -> list[Case]:
        """An article of unseen paragraphs where a 15-45-token sentence of
        paragraph 1 comes back inside paragraph 3."""
        low, high = PASSAGE_TOKENS
        cases = []
        for _ in range(n * 3):
            first, other, filler, host = (self._host() for _ in range(4))
            spans = [
                s for s in sentence_spans(other) if low <= len(reference_tokens(other[s[0] : s[1]])) <= high
            ]
            if not spans:
                continue
            span = self.rng.choice(spans)
            text, where = insert_quote(host, other[span[0] : span[1]], self.lang, self.rng)
            late = Para(text, [Expected("article", ("", 1), where, span)])
            cases.append(Case("article_repeat", self.lang, [Para(first), Para(other), Para(filler), late]))
            if len(cases) >= n:
                break
        return cases

    def negatives(self, n: int) -> list[Case]:
        return [Case("unseen", self.lang, [Para(h, negative=True)]) for h in self.hosts[:n]]

    def natural(self, held_out: list[Doc], n: int) -> list[Case]:
        """Real reuse: held-out paragraphs holding a run of at least 15
        tokens of an archived paragraph (shared wire copy) while the two
        paragraphs are not near-duplicates (Jaccard under 0.5) and the
        held-out one is at least 10 tokens longer than the run. Every
        archived paragraph holding such a run is an acceptable source."""
        low = PASSAGE_TOKENS[0]
        by_ref = {(d.id, i): t for d in self.archive for i, t in enumerate(d.paragraphs)}
        cases = []
        for doc in held_out:
            for text in doc.paragraphs:
                tokens = reference_tokens(text)
                sources = []
                for ref in self.index.sharing(text):
                    source = reference_tokens(by_ref[ref])
                    run = SequenceMatcher(None, source, tokens, autojunk=False).find_longest_match()
                    jaccard, _ = overlap(reference_shingles(by_ref[ref]), reference_shingles(text))
                    if run.size >= low and jaccard < 0.5 and len(tokens) >= run.size + 10:
                        sources.append(ref)
                if sources:
                    names = [("archive", ref) for ref in sorted(sources)]
                    cases.append(
                        Case("natural_reuse", self.lang, [Para(text, must_name=names, any_name=True)])
                    )
            if len(cases) >= n:
                break
        return cases
