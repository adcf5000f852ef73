"""The evaluation set: an archive to ingest and articles to check, with ground truth.

Every checked article mixes paragraphs of an unseen (held-out) article with
edited copies of archived paragraphs, one per edit kind, and one paragraph
of its own repeated further down. Held-out paragraphs are labelled by the
reference measure (``quality_corpus.truth``), not assumed to be new.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.quality.corpus import (
    CORPORA,
    NO_SPACE_LANGS,
    Doc,
    ReferenceIndex,
    load,
    overlap,
    reference_shingles,
    reference_tokens,
    sentences,
    truth,
)
from benchmarks.quality.edits import EDITS, HTML_ONLY, KINDS, EditContext, retyped

MODES = ("text", "html")
NEGATIVES_PER_ARTICLE = 4
DONOR_DOCS = 20
# An edited copy is only expected to be caught when the source paragraph is
# long enough for a two-word change to leave most of it intact.
MIN_SOURCE_TOKENS = {"zh": 40}
MIN_SOURCE_TOKENS_DEFAULT = 20


@dataclass
class Item:
    kind: str  # an edit kind, "repeat", or the truth of a held-out paragraph
    text: str
    source: tuple[str, int] | None = None  # archived paragraph it was made from
    source_key: str = ""  # ref_key of that paragraph
    repeat_of: int | None = None  # earlier position in the same article


@dataclass
class Article:
    corpus: str
    mode: str
    items: list[Item]


@dataclass
class CorpusSet:
    name: str
    lang: str
    archive: list[Doc]
    articles: list[Article] = field(default_factory=list)
    # reference-normalised text -> archived copies: a hit on any of them
    # finds the source.
    copies: dict[str, set[tuple[str, int]]] = field(default_factory=dict)


def ref_key(text: str) -> str:
    return " ".join(reference_tokens(text))


def _min_tokens(lang: str) -> int:
    return MIN_SOURCE_TOKENS.get(lang, MIN_SOURCE_TOKENS_DEFAULT)


def _context(lang: str, archive: list[Doc], donors: list[Doc]) -> EditContext:
    vocab: set[str] = set()
    for doc in archive[:200]:
        for p in doc.paragraphs:
            if lang in NO_SPACE_LANGS:
                vocab.update(c for c in p if "\u4e00" <= c <= "\u9fff")
            else:
                vocab.update(w for w in p.split() if w.isalpha() and len(w) > 3)
    donor = [s for d in donors for p in d.paragraphs for s in sentences(p) if len(reference_tokens(s)) >= 6]
    return EditContext(lang, sorted(vocab), donor, _min_tokens(lang))


def _edited(kind: str, pool: list[tuple[str, int, str]], ctx: EditContext, rng: random.Random) -> Item:
    for _ in range(100):
        doc_id, index, text = pool[rng.randrange(len(pool))]
        if kind == "sentence_removed" and len(sentences(text)) < 2:
            continue
        edited = EDITS[kind](text, ctx, rng)
        if edited is not None and edited.strip():
            return Item(kind, edited, (doc_id, index), ref_key(text))
    raise RuntimeError(f"no archived paragraph suits the edit {kind!r}")


def build(corpora: Path, name: str, archive_docs: int, articles: int, seed: int) -> CorpusSet:
    rng = random.Random(f"{seed}:{name}")
    lang = CORPORA[name][1]
    needed = articles * len(MODES) * NEGATIVES_PER_ARTICLE
    docs = load(corpora, name, archive_docs * 2 + needed, rng)
    donors, rest = docs[:DONOR_DOCS], docs[DONOR_DOCS:]
    held: list[Doc] = []
    pooled = 0
    while rest and pooled < needed and len(held) < len(docs) // 4:
        held.append(rest.pop(0))
        pooled += len(held[-1].paragraphs)
    archive = rest[:archive_docs]
    ctx = _context(lang, archive, donors)
    sources = [
        (d.id, i, p)
        for d in archive
        for i, p in enumerate(d.paragraphs)
        if len(reference_tokens(p)) >= _min_tokens(lang)
    ]
    out = CorpusSet(name, lang, archive)
    copies: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for d in archive:
        for i, p in enumerate(d.paragraphs):
            copies[ref_key(p)].add((d.id, i))
    out.copies = dict(copies)
    held_paragraphs = [p for d in held for p in d.paragraphs]
    index = ReferenceIndex([p for d in archive for p in d.paragraphs])
    cursor = 0
    for mode in MODES:
        for _ in range(articles):
            own = held_paragraphs[cursor : cursor + NEGATIVES_PER_ARTICLE]
            cursor += len(own)
            items = [Item("held_out", p) for p in own]
            for kind in KINDS:
                if kind in HTML_ONLY and mode != "html":
                    continue
                items.insert(rng.randrange(len(items) + 1), _edited(kind, sources, ctx, rng))
            _add_repeat(items, ctx, rng)
            _label(items, index)
            out.articles.append(Article(name, mode, items))
    return out


def _add_repeat(items: list[Item], ctx: EditContext, rng: random.Random) -> None:
    """Repeat one paragraph of the article further down, re-typed (the seed case)."""
    long_enough = [i for i, it in enumerate(items) if len(reference_tokens(it.text)) >= _min_tokens(ctx.lang)]
    if not long_enough:
        return
    first = rng.choice(long_enough)
    copy = retyped(items[first].text, ctx, rng) or items[first].text
    items.insert(rng.randrange(first + 1, len(items) + 1), Item("repeat", copy, repeat_of=first))


def _label(items: list[Item], index: ReferenceIndex) -> None:
    """Truth of each held-out paragraph, against the archive and against the
    paragraphs above it in the article (an edited copy placed above it may
    share its text, as may a paragraph of its own article)."""
    for pos, item in enumerate(items):
        if item.kind != "held_out":
            continue
        tokens = len(reference_tokens(item.text))
        label = truth(index.best(item.text), tokens)
        mine = reference_shingles(item.text)
        above = [overlap(mine, reference_shingles(items[j].text)) for j in range(pos)]
        local = truth(max(above, default=(0.0, 0.0)), tokens)
        if label == "negative" and local != "negative":
            label = "ambiguous"
        item.kind = {"positive": "natural_reuse", "negative": "negative"}.get(label, "ambiguous")
