"""A large archive of distinct paragraphs grown from the shared corpora, and
check articles that mix archived and unseen paragraphs.

The corpora hold about 170,000 real paragraphs (news in English, French,
Spanish, Chinese and Arabic). An archive of N paragraphs takes them in
rounds ("copies"):

* copy 0 is the real documents, each paragraph kept at its first verbatim
  occurrence only (the corpora repeat wire copy), so that every archived
  paragraph is distinct;
* copy c >= 1 rewrites every document: in each paragraph the word order is
  shuffled and about one word in ten is replaced by another word of the same
  paragraph, with a generator seeded by (copy, document, paragraph). Text
  without spaces (Chinese) is shuffled by characters. A variant keeps the
  language, vocabulary and length of real text but shares almost no
  3-word shingle with its original, so it behaves as unrelated content of
  the same kind (the archive does not fill with near-duplicates that would
  inflate every lookup).

Check articles take 10 paragraphs: 5 drawn from the archive (so a check
finds real matches and verifies them) and 5 unseen variants (copy numbers
far above any archived copy).

Corpus text is read at run time and only written to temporary files the
benchmark deletes; nothing from it is stored in the repository.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import read_jsonl

DOCUMENT_FILES = (
    "en_reuters21578.jsonl",
    "en_bbc_news.jsonl",
    "en_gilets_jaunes_press.jsonl",
    "fr_gilets_jaunes_press.jsonl",
    "es_gilets_jaunes_press.jsonl",
    "zh_gilets_jaunes_press.jsonl",
    "ar_saudinewsnet.jsonl",
)
UNSEEN_COPY = 1_000_000
ARTICLE_PARAGRAPHS = 10


class CorporaMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Source:
    id: str
    paragraphs: tuple[str, ...]


def load_sources(corpora: Path) -> list[Source]:
    files = [corpora / name for name in DOCUMENT_FILES if (corpora / name).is_file()]
    if not files:
        raise CorporaMissing(f"no corpus file of {', '.join(DOCUMENT_FILES)} in {corpora}")
    sources: list[Source] = []
    for path in files:
        for number, doc in enumerate(read_jsonl(path)):
            paragraphs = tuple(p.strip() for p in str(doc.get("text", "")).split("\n\n") if p.strip())
            if paragraphs:
                sources.append(Source(f"{path.stem}:{doc.get('id', number)}", paragraphs))
    return sources


def variant(text: str, seed: int) -> str:
    rng = random.Random(seed)
    words = text.split()
    if len(words) < 4:  # unspaced script: shuffle characters
        chars = list(text)
        rng.shuffle(chars)
        return "".join(chars)
    for _ in range(max(1, len(words) // 10)):
        words[rng.randrange(len(words))] = words[rng.randrange(len(words))]
    rng.shuffle(words)
    return " ".join(words)


def _seed(copy: int, doc: int, index: int) -> int:
    return (copy * 1_000_003 + doc) * 4099 + index


def documents(sources: list[Source], paragraphs: int) -> Iterator[tuple[str, list[str]]]:
    """(id, paragraphs) of archive documents until ``paragraphs`` are emitted."""
    seen: set[int] = set()
    left = paragraphs
    copy = 0
    while left > 0:
        for number, source in enumerate(sources):
            if copy == 0:
                texts = []
                for p in source.paragraphs:
                    digest = zlib.crc32(p.encode()) << 32 | len(p)
                    if digest not in seen:
                        seen.add(digest)
                        texts.append(p)
            else:
                texts = [variant(p, _seed(copy, number, i)) for i, p in enumerate(source.paragraphs)]
            texts = texts[:left]
            if not texts:
                continue
            left -= len(texts)
            yield f"{source.id}#{copy}", texts
            if left == 0:
                return
        copy += 1


def write_archive(sources: list[Source], paragraphs: int, path: Path) -> tuple[int, int, int]:
    """JSONL for ``paradup ingest``; returns (documents, paragraphs, UTF-8 text bytes)."""
    docs = count = text_bytes = 0
    with path.open("w", encoding="utf-8") as out:
        for doc_id, texts in documents(sources, paragraphs):
            out.write(json.dumps({"id": doc_id, "text": "\n\n".join(texts)}, ensure_ascii=False) + "\n")
            docs += 1
            count += len(texts)
            text_bytes += sum(len(t.encode()) for t in texts)
    return docs, count, text_bytes


def articles(path: Path, count: int, documents_in_file: int, seed: int = 7) -> list[str]:
    """Check articles: half archived paragraphs (read back from sampled lines
    of the archive file), half unseen variants, in shuffled order."""
    rng = random.Random(seed)
    half = ARTICLE_PARAGRAPHS // 2
    wanted = set(rng.sample(range(documents_in_file), min(documents_in_file, 4 * count)))
    with path.open(encoding="utf-8") as lines:
        pool = [
            json.loads(line)["text"].split("\n\n") for number, line in enumerate(lines) if number in wanted
        ]
    archived = [p for doc in pool for p in doc]
    out = []
    for n in range(count):
        picked = [archived[rng.randrange(len(archived))] for _ in range(half)]
        unseen = [
            variant(archived[rng.randrange(len(archived))], _seed(UNSEEN_COPY + n, 0, i)) for i in range(half)
        ]
        body = picked + unseen
        rng.shuffle(body)
        out.append("\n\n".join(body))
    return out


def write_inputs(
    sources: list[Source], paragraphs: int, article_count: int, work: Path
) -> tuple[Path, Path, dict[str, Any]]:
    """The archive JSONL and the check bodies (one JSON ``{"text"}`` a line)
    for one size, in ``work``; with the archive's counts."""
    archive = work / f"archive-{paragraphs}.jsonl"
    docs, count, text_bytes = write_archive(sources, paragraphs, archive)
    bodies = work / f"bodies-{paragraphs}.jsonl"
    bodies.write_text(
        "".join(
            json.dumps({"text": a}, ensure_ascii=False) + "\n" for a in articles(archive, article_count, docs)
        ),
        encoding="utf-8",
    )
    return archive, bodies, {"paragraphs": count, "documents": docs, "text_bytes": text_bytes}
