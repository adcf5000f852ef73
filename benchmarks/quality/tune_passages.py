"""Choosing the passage defaults from data (k-gram, window, minimum length,
posting cap), in process, on one temporary SQLite archive per k-gram/window.

    .venv/bin/python -m benchmarks.quality.tune_passages [--corpora DIR] [--docs N] [--queries N]

For each corpus, documents are split into an archive and unseen ones. A
query is an unseen paragraph with 1-2 sentences of an archived paragraph
(15-45 tokens; characters for Chinese) inserted at a sentence boundary,
verbatim or with one word changed (one character for Chinese); it is found
when a passage names the archived paragraph. The false-positive rate is
over unseen paragraphs sharing no run of 8 reference tokens with the
archive: any archive passage is a false alarm. Also reported: index bytes
per paragraph and the in-process check time of the queries. The shared
corpora are read at run time; nothing of them enters the repository.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from app.engine import Service
from app.engine.service import DocumentInput
from app.settings import Settings
from benchmarks.quality.corpus import DEFAULT_CORPORA, Doc, load, reference_tokens, sentences

LANGS = {"en-bbc": False, "fr": False, "zh": True, "ar": False}
RUN = 8


def _grams(tokens: list[str], n: int) -> set[int]:
    return {hash(" ".join(tokens[i : i + n])) for i in range(len(tokens) - n + 1)}


def _quote(paragraph: str, rng: random.Random, chinese: bool) -> str | None:
    """1-2 consecutive sentences of 15-45 reference tokens."""
    parts = sentences(paragraph)
    options = []
    for i in range(len(parts)):
        for size in (1, 2):
            text = (" " if not chinese else "").join(parts[i : i + size])
            if i + size <= len(parts) and 15 <= len(reference_tokens(text)) <= 45:
                options.append(text)
    return rng.choice(options) if options else None


def _change_word(quote: str, rng: random.Random, chinese: bool, vocabulary: list[str]) -> str:
    if chinese:
        han = [i for i, c in enumerate(quote) if "\u4e00" <= c <= "\u9fff"]
        at = rng.choice(han[1:-1] or han)
        return quote[:at] + rng.choice(vocabulary) + quote[at + 1 :]
    words = quote.split(" ")
    at = rng.randrange(1, len(words) - 1)
    return " ".join([*words[:at], rng.choice(vocabulary), *words[at + 1 :]])


def _insert(host: str, quote: str, rng: random.Random, chinese: bool) -> tuple[str, int, int]:
    parts = sentences(host)
    at = rng.randrange(len(parts) + 1)
    glue = "" if chinese else " "
    before = glue.join(parts[:at])
    start = len(before) + (len(glue) if before else 0)
    text = glue.join([*parts[:at], quote, *parts[at:]])
    return text, start, start + len(quote)


def build_queries(name: str, docs: list[Doc], per_kind: int, rng: random.Random) -> dict[str, list]:  # type: ignore[type-arg]
    chinese = LANGS[name]
    cut = int(len(docs) * 0.8)
    archive, unseen = docs[:cut], docs[cut:]
    flat = [(d.id, i, p) for d in archive for i, p in enumerate(d.paragraphs)]
    hosts = [p for d in unseen for p in d.paragraphs if len(reference_tokens(p)) >= 20]
    vocabulary = sorted(
        {
            w
            for _, _, p in flat[:2000]
            for w in (p if chinese else p.split())
            if len(w) > (0 if chinese else 3)
        }
    )
    archived_runs: set[int] = set()
    for _, _, p in flat:
        archived_runs |= _grams(reference_tokens(p), RUN)
    queries: dict[str, list] = {"verbatim": [], "one_word": [], "unseen": []}  # type: ignore[type-arg]
    for kind in ("verbatim", "one_word"):
        while len(queries[kind]) < per_kind:
            doc_id, index, paragraph = rng.choice(flat)
            quote = _quote(paragraph, rng, chinese)
            if quote is None:
                continue
            if kind == "one_word":
                quote = _change_word(quote, rng, chinese, vocabulary)
            text, start, end = _insert(rng.choice(hosts), quote, rng, chinese)
            queries[kind].append((text, doc_id, index, start, end))
    for p in hosts:
        if not (_grams(reference_tokens(p), RUN) & archived_runs):
            queries["unseen"].append((p, None, -1, 0, 0))
    return {"archive": archive, **queries}


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


def measure(service: Service, queries: dict[str, list]) -> dict[str, float]:  # type: ignore[type-arg]
    out: dict[str, float] = {}
    began = time.perf_counter()
    checked = 0
    for kind in ("verbatim", "one_word", "unseen"):
        hits, ious, items = 0, [], queries[kind]
        for n in range(0, len(items), 10):
            batch = items[n : n + 10]
            results = service.check("\n\n".join(t for t, *_ in batch))
            checked += 1
            for (_, doc_id, index, start, end), result in zip(batch, results, strict=True):
                archive = [p for p in result.passages if p.source == "archive"]
                if doc_id is None:
                    hits += bool(archive)
                    continue
                mine = [p for p in archive if p.document_id == doc_id and p.paragraph_index == index]
                if mine:
                    hits += 1
                    base = result.paragraph.start
                    ious.append(max(_iou((p.start - base, p.end - base), (start, end)) for p in mine))
        out[kind] = hits / max(1, len(items))
        if ious:
            out[f"{kind}_iou"] = sum(ious) / len(ious)
    out["ms_per_check"] = 1000 * (time.perf_counter() - began) / max(1, checked)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--docs", type=int, default=1500)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--schemes", default="3x5,4x4,5x3,4x3")
    parser.add_argument("--min-tokens", default="8,10,12")
    args = parser.parse_args()
    if not args.corpora.is_dir():
        raise SystemExit(f"corpora not found at {args.corpora}: pass --corpora")
    rng = random.Random(13)
    sets = {
        name: build_queries(name, load(args.corpora, name, args.docs, rng), args.queries, rng)
        for name in LANGS
    }
    for scheme in args.schemes.split(","):
        # "none": the index without passage postings, for its size.
        k, w = (int(x) for x in scheme.split("x")) if scheme != "none" else (4, 4)
        with tempfile.TemporaryDirectory() as tmp:
            base = Settings(
                store=f"sqlite:///{tmp}/tune.db", passage_kgram=k, passage_window=w, passages=scheme != "none"
            )
            service = Service.open(base)
            paragraphs = 0
            for q in sets.values():
                docs = [DocumentInput(d.id, "\n\n".join(d.paragraphs)) for d in q["archive"]]
                for n in range(0, len(docs), 500):
                    paragraphs += sum(r.paragraphs for r in service.ingest(docs[n : n + 500]))
            size = service.stats().extra["bytes_on_disk"]
            print(f"{scheme}: {paragraphs} paragraphs, {size / paragraphs:.0f} bytes/paragraph on disk")
            for min_tokens in (int(x) for x in args.min_tokens.split(",")):
                tuned_settings = base.model_copy(update={"passage_min_tokens": min_tokens})
                tuned = Service(tuned_settings, service.store, service.fingerprinter)
                for name, q in sets.items():
                    scores = measure(tuned, q)
                    shown = " ".join(f"{key}={value:.3f}" for key, value in scores.items())
                    print(f"  min_tokens={min_tokens} {name:7} {shown} (unseen n={len(q['unseen'])})")
            service.close()


if __name__ == "__main__":
    main()
