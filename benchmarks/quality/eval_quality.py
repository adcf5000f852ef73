"""Detection quality: paradup and a plain datasketch baseline on the same edits.

    .venv/bin/python -m benchmarks.quality.eval_quality [--corpora DIR] [--out FILE.json]

Starts each system as a real server (paradup on a temporary SQLite store),
ingests a sample of every corpus plus the Clough-Stevenson sources, posts
articles mixing held-out paragraphs with edited archived ones (as text and
as HTML), and reports recall per edit kind and corpus, the false-positive
rate on held-out paragraphs the reference measure calls new, latency, the
human-labelled Clough-Stevenson answers and the seed article. See
docs/quality.md for the edit kinds and the ground-truth rule.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.quality.clough import add_paradup_env, corpora_present, flagged_by_label, paradup_env, sources
from benchmarks.quality.corpus import CORPORA, DEFAULT_CORPORA
from benchmarks.quality.dataset import Article, CorpusSet, build
from benchmarks.quality.edits import KINDS, to_html
from benchmarks.quality.report import Score, table
from tests.live_server import ROOT, LiveServer

SEED_ARTICLE = ROOT.parent / "shared" / "seed" / "kremlin_fr.txt"
INGEST_BATCH = 200
REPORTED_KINDS = [*KINDS, "repeat", "natural_reuse"]


def render(article: Article, rng: random.Random) -> str:
    if article.mode == "text":
        return "\n\n".join(item.text for item in article.items)
    blocks = [to_html(item.text, rng, inline=item.kind == "html") for item in article.items]
    # Markup a CMS page carries around the article; none of it is text.
    return (
        "<!doctype html><html><head><title>t</title><script>var x = 1;</script></head>"
        f"<body><article><!-- body -->{''.join(blocks)}<img src='a.png'></article></body></html>"
    )


@contextmanager
def running(system: str, env: dict[str, str]) -> Iterator[LiveServer]:
    if system == "baseline":
        with LiveServer.baseline() as service:
            yield service
        return
    with (
        tempfile.TemporaryDirectory() as tmp,
        LiveServer.paradup(f"sqlite:///{tmp}/quality.db", env) as service,
    ):
        yield service


def ingest(service: LiveServer, docs: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for i in range(0, len(docs), INGEST_BATCH):
        service.post("/ingest", {"documents": docs[i : i + INGEST_BATCH]})
    return time.perf_counter() - started


def _matched(result: dict[str, Any], source: str) -> bool:
    return any(m["source"] == "archive" and m["document_id"] == source for m in result["matches"])


def clough(service: LiveServer, corpora: Path) -> dict[str, dict[str, Any]]:
    """Share of answers with a paragraph flagged against their source, per
    human label (cut / light / heavy / non)."""
    out = flagged_by_label(service, corpora, _matched)
    for cell in out.values():
        cell["rate"] = cell["flagged"] / cell["n"]
    return out


def seed_case(service: LiveServer) -> dict[str, Any]:
    """The seed article: 1-based paragraphs 4 and 5 repeat 2 and 3."""
    if not SEED_ARTICLE.exists():
        return {"skipped": f"{SEED_ARTICLE} is absent"}
    answer, _ = service.post("/check", {"text": SEED_ARTICLE.read_text(encoding="utf-8")})
    found = {
        p["index"]: sorted(m["paragraph_index"] for m in p["matches"] if m["source"] == "article")
        for p in answer["paragraphs"]
        if p["status"] == "duplicate"
    }
    caught = sum(1 for index, first in ((3, 1), (4, 2)) if first in found.get(index, []))
    return {"repeats": 2, "caught": caught, "flagged": {str(k): v for k, v in found.items()}}


def evaluate(system: str, sets: list[CorpusSet], args: argparse.Namespace) -> dict[str, Any]:
    env = paradup_env(args)
    docs = [{"id": d.id, "text": "\n\n".join(d.paragraphs)} for corpus in sets for d in corpus.archive]
    docs += sources(args.corpora)
    score = Score()
    with running(system, env) as service:
        ingest_seconds = ingest(service, docs)
        print(f"  {system}: ingested {len(docs)} documents in {ingest_seconds:.1f} s", file=sys.stderr)
        service.post("/check", {"text": "warm up " * 20})
        rng = random.Random(args.seed)
        for corpus in sets:
            for article in corpus.articles:
                body = {"text": render(article, rng), "format": article.mode}
                answer, seconds = service.post("/check", body)
                score.add(article, corpus, answer, seconds)
        result = score.summary()
        result["ingest_seconds"] = ingest_seconds
        result["clough_stevenson"] = clough(service, args.corpora)
        result["seed"] = seed_case(service)
    return result


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Detection quality, paradup vs a datasketch baseline.")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--out", type=Path, help="write the full results as JSON here")
    parser.add_argument("--archive-docs", type=int, default=1200, help="archived documents per corpus")
    parser.add_argument("--articles", type=int, default=100, help="checked articles per corpus and format")
    parser.add_argument("--corpus", action="append", choices=sorted(CORPORA), help="default: all")
    parser.add_argument("--systems", default="paradup,baseline")
    parser.add_argument("--seed", type=int, default=4)
    add_paradup_env(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not corpora_present(args.corpora):
        return 2
    names = args.corpus or list(CORPORA)
    started = time.perf_counter()
    sets = [build(args.corpora, n, args.archive_docs, args.articles, args.seed) for n in names]
    print(f"built the evaluation set in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    results = {system: evaluate(system, sets, args) for system in args.systems.split(",")}
    report = {
        "command": " ".join(["python -m benchmarks.quality.eval_quality", *(argv or sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": f"{platform.platform()}, python {platform.python_version()}",
        "config": {k: str(v) for k, v in vars(args).items()},
        "sizes": {
            s.name: {
                "archive_docs": len(s.archive),
                "archive_paragraphs": sum(len(d.paragraphs) for d in s.archive),
                "articles": len(s.articles),
            }
            for s in sets
        },
        "results": results,
    }
    print(table(results, names, REPORTED_KINDS))
    for system, r in results.items():
        lat, fp, cs = r["latency_ms"], r["false_positives"], r["clough_stevenson"]
        shares = ", ".join(f"{k} {v['flagged']}/{v['n']}" for k, v in sorted(cs.items()))
        print(
            f"{system}: FP rate {fp['rate']:.4%} ({fp['flagged']}/{fp['n']}); latency median "
            f"{lat['median']:.1f} ms, p99 {lat['p99']:.1f} ms over {lat['checks']} checks; "
            f"Clough-Stevenson flagged: {shares}; seed repeats {r['seed'].get('caught', '-')}/2; "
            f"by format {json.dumps({m: round(c['rate'], 4) for m, c in r['recall_by_mode'].items()})}"
        )
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
