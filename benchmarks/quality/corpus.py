"""Corpus loading and the reference measure behind the evaluation's ground truth.

The reference normaliser is written independently of ``app.hashing`` on
purpose: ground truth must not inherit the normalisation gaps it is meant
to expose. It only has to be right for text as published (it never sees
disguised copies: the truth of an edited copy is known by construction).
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

DEFAULT_CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"

# name -> (file, language). English is measured on two sources because
# wire copy (Reuters) and edited features (BBC) reuse text differently.
CORPORA = {
    "en-bbc": ("en_bbc_news.jsonl", "en"),
    "en-reuters": ("en_reuters21578.jsonl", "en"),
    "fr": ("fr_gilets_jaunes_press.jsonl", "fr"),
    "es": ("es_gilets_jaunes_press.jsonl", "es"),
    "zh": ("zh_gilets_jaunes_press.jsonl", "zh"),
    "ar": ("ar_saudinewsnet.jsonl", "ar"),
}
NO_SPACE_LANGS = frozenset({"zh"})

# Reference ground-truth rule (see docs/quality.md).
REF_SHINGLE = 3
SUBSTANTIAL_TOKENS = 8  # fewer tokens: a "short" paragraph
SUBSTANTIAL_SHINGLES = SUBSTANTIAL_TOKENS - REF_SHINGLE + 1
POSITIVE_JACCARD = 0.5
POSITIVE_CONTAINMENT = 0.8
NEGATIVE_JACCARD = 0.3
NEGATIVE_CONTAINMENT = 0.5

_NO_SPACE = r"\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_NO_SPACE}]|[^\W_{_NO_SPACE}]+")
_SENTENCE_END = re.compile(r"(?<=[.!?…؟])\s+(?=\S)|(?<=[。！？])")


@dataclass(frozen=True)
class Doc:
    id: str
    paragraphs: list[str]


def reference_tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = "".join(c for c in folded if unicodedata.category(c) not in ("Cf", "Mn"))
    return _TOKEN.findall(folded)


def reference_shingles(text: str) -> set[str]:
    tokens = reference_tokens(text)
    if len(tokens) < REF_SHINGLE:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + REF_SHINGLE]) for i in range(len(tokens) - REF_SHINGLE + 1)}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _clean(paragraph: str) -> str:
    # A lone line break is soft inside a paragraph; folding it keeps every
    # posted paragraph one block in both text and HTML.
    return re.sub(r"\s*\n\s*", " ", paragraph).strip()


def _sentence_groups(text: str, size: int = 3) -> list[str]:
    parts = sentences(_clean(text))
    return [" ".join(parts[i : i + size]) for i in range(0, len(parts), size)]


def load(corpora: Path, name: str, limit: int, rng: random.Random) -> list[Doc]:
    """Up to ``limit`` documents of a corpus, in a seeded random order.

    The Spanish set lost its paragraph breaks: its texts are cut into groups
    of three sentences, which stand in for paragraphs.
    """
    file, lang = CORPORA[name]
    with open(corpora / file, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    rng.shuffle(records)
    docs: list[Doc] = []
    for record in records:
        if lang == "es":
            paragraphs = _sentence_groups(record["text"])
        else:
            paragraphs = [_clean(p) for p in record["text"].split("\n\n")]
        paragraphs = [p for p in paragraphs if p]
        if paragraphs:
            docs.append(Doc(f"{name}:{record['id']}", paragraphs))
        if len(docs) >= limit:
            break
    return docs


def read_jsonl(path: Path) -> Iterator[dict[str, object]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def _hash(shingle: str) -> int:
    # Python's str hash is stable within one process, which is all the
    # index needs.
    return hash(shingle) & 0x7FFF_FFFF_FFFF_FFFF


class ReferenceIndex:
    """Exact reference Jaccard/containment of a query against every archived
    paragraph that shares a shingle with it (an inverted index in two sorted
    arrays, so tens of thousands of paragraphs stay cheap)."""

    def __init__(self, paragraphs: list[str]) -> None:
        sets = [np.fromiter({_hash(s) for s in reference_shingles(p)}, dtype=np.int64) for p in paragraphs]
        self.sizes = np.array([s.size for s in sets], dtype=np.int64)
        owners = np.repeat(np.arange(len(sets), dtype=np.int64), self.sizes)
        values = np.concatenate(sets) if sets else np.empty(0, dtype=np.int64)
        order = np.argsort(values, kind="stable")
        self.values: npt.NDArray[np.int64] = values[order]
        self.owners: npt.NDArray[np.int64] = owners[order]

    def best(self, text: str) -> tuple[float, float]:
        """Highest Jaccard and highest containment over the archive."""
        query = np.fromiter({_hash(s) for s in reference_shingles(text)}, dtype=np.int64)
        if query.size == 0 or self.values.size == 0:
            return 0.0, 0.0
        lo = np.searchsorted(self.values, query, side="left")
        hi = np.searchsorted(self.values, query, side="right")
        hits = [self.owners[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a]
        if not hits:
            return 0.0, 0.0
        owners, shared = np.unique(np.concatenate(hits), return_counts=True)
        sizes = self.sizes[owners]
        jaccard = shared / (sizes + query.size - shared)
        smaller = np.minimum(sizes, query.size)
        # Containment in a short paragraph ("Reuters reports") means nothing.
        containment = np.where(smaller >= SUBSTANTIAL_SHINGLES, shared / smaller, 0.0)
        return float(jaccard.max()), float(containment.max())


def overlap(a: set[str], b: set[str]) -> tuple[float, float]:
    if not a or not b:
        return 0.0, 0.0
    shared = len(a & b)
    smaller = min(len(a), len(b))
    return shared / len(a | b), shared / smaller if smaller >= SUBSTANTIAL_SHINGLES else 0.0


def truth(best: tuple[float, float], tokens: int) -> str:
    """'positive', 'negative' or 'ambiguous' for a paragraph as published."""
    jaccard, containment = best
    if tokens < SUBSTANTIAL_TOKENS:
        # Short paragraphs are matched only by exact repetition inside the
        # article, so an archive repeat is neither a hit nor a false alarm.
        return "ambiguous" if jaccard >= 1.0 else "negative"
    if jaccard >= POSITIVE_JACCARD or containment >= POSITIVE_CONTAINMENT:
        return "positive"
    if jaccard < NEGATIVE_JACCARD and containment < NEGATIVE_CONTAINMENT:
        return "negative"
    return "ambiguous"
