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
benchmark deletes (or to the cache directory ``--cache`` names, outside the
repository); nothing from it is stored in the repository.

Copies after the first are written by worker processes, one copy each, in
order: the file is the one a single process writes, in about half the time
on two cores (10M paragraphs are ~60 copies). ``cached_inputs`` keeps the
files of each size in a directory, keyed by what they are made from (this
module's source, the corpus files' names, sizes and dates, the article
count), so a later run reuses them instead of writing them again.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
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


def _line(doc_id: str, texts: list[str]) -> str:
    return json.dumps({"id": doc_id, "text": "\n\n".join(texts)}, ensure_ascii=False) + "\n"


# The sources a forked worker writes copies of (inherited, not pickled).
_SOURCES: list[Source] = []


def _copy_part(job: tuple[int, int]) -> tuple[str, int, int, int]:
    """Copy ``copy`` of every source (a variant of each paragraph), cut after
    ``limit`` paragraphs: its JSONL lines, documents, paragraphs, text bytes."""
    copy, limit = job
    lines: list[str] = []
    docs = count = text_bytes = 0
    for number, source in enumerate(_SOURCES):
        if count == limit:
            break
        texts = [variant(p, _seed(copy, number, i)) for i, p in enumerate(source.paragraphs)]
        texts = texts[: limit - count]
        lines.append(_line(f"{source.id}#{copy}", texts))
        docs += 1
        count += len(texts)
        text_bytes += sum(len(t.encode()) for t in texts)
    return "".join(lines), docs, count, text_bytes


def write_archive(
    sources: list[Source], paragraphs: int, path: Path, processes: int | None = None
) -> tuple[int, int, int]:
    """JSONL for ``paradup ingest``; returns (documents, paragraphs, UTF-8 text
    bytes). The same file as ``documents(sources, paragraphs)`` line by line."""
    docs = count = text_bytes = 0
    with path.open("w", encoding="utf-8") as out:
        # Copy 0 (the real paragraphs, first occurrences only) in this process.
        for doc_id, texts in documents(sources, paragraphs):
            if not doc_id.endswith("#0"):
                break
            out.write(_line(doc_id, texts))
            docs += 1
            count += len(texts)
            text_bytes += sum(len(t.encode()) for t in texts)
        per_copy = sum(len(s.paragraphs) for s in sources)
        jobs: list[tuple[int, int]] = []
        left = paragraphs - count
        while left > 0:
            jobs.append((len(jobs) + 1, min(per_copy, left)))
            left -= jobs[-1][1]
        _SOURCES[:] = sources
        workers = processes or min(len(jobs), os.cpu_count() or 1)
        try:
            if workers <= 1 or len(jobs) <= 1:
                parts = map(_copy_part, jobs)
                for text, d, c, b in parts:
                    out.write(text)
                    docs, count, text_bytes = docs + d, count + c, text_bytes + b
            else:
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    for text, d, c, b in pool.imap(_copy_part, jobs):
                        out.write(text)
                        docs, count, text_bytes = docs + d, count + c, text_bytes + b
        finally:
            _SOURCES.clear()
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


def inputs_key(corpora: Path, paragraphs: int, article_count: int) -> str:
    """What an archive of this size is made from: this module's code, the
    corpus files (name, size, modification time) and the article count."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for name in DOCUMENT_FILES:
        path = corpora / name
        if path.is_file():
            stat = path.stat()
            digest.update(f"{name} {stat.st_size} {stat.st_mtime_ns}".encode())
    digest.update(f"{paragraphs} {article_count}".encode())
    return digest.hexdigest()[:16]


def cached_inputs(
    sources: list[Source], corpora: Path, paragraphs: int, article_count: int, cache: Path
) -> tuple[Path, Path, dict[str, Any]]:
    """``write_inputs`` into ``cache``, or the files a run before left there
    when they were made from the same code and corpora (``meta`` holds the key
    and is written last, so a run killed while writing is not reused)."""
    cache.mkdir(parents=True, exist_ok=True)
    key = inputs_key(corpora, paragraphs, article_count)
    meta_path = cache / f"inputs-{paragraphs}.json"
    archive, bodies = cache / f"archive-{paragraphs}.jsonl", cache / f"bodies-{paragraphs}.jsonl"
    if meta_path.is_file() and archive.is_file() and bodies.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") == key:
            return archive, bodies, {**meta["counts"], "cached": True}
    meta_path.unlink(missing_ok=True)
    archive, bodies, counts = write_inputs(sources, paragraphs, article_count, cache)
    meta_path.write_text(json.dumps({"key": key, "counts": counts}), encoding="utf-8")
    return archive, bodies, {**counts, "cached": False}
