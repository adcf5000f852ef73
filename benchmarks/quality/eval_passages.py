"""Passage-level reuse: the targets of the passage issue, measured on real text.

    .venv/bin/python -m benchmarks.quality.eval_passages [--corpora DIR] [--out FILE.json]

Starts paradup as a real server on a temporary SQLite store, ingests a
sample of each corpus (en, fr, zh, ar) and the Clough-Stevenson sources,
then posts, as text and as HTML: quotes of 1-2 archived sentences inserted
into unseen paragraphs (verbatim and with one word changed), two archived
paragraphs sent as one and one sent as two, a sentence of an earlier
paragraph repeated later in the same article, unseen paragraphs, real
French wire reuse, and the human-labelled Clough-Stevenson answers. See
``passage_cases`` for how ground truth is made and docs/quality.md for the
results.
"""

from __future__ import annotations

import argparse
import html
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.quality.clough import add_paradup_env, corpora_present, flagged_by_label, paradup_env, sources
from benchmarks.quality.corpus import CORPORA, DEFAULT_CORPORA, load
from benchmarks.quality.passage_cases import Builder, Case, Expected, Para, Span
from benchmarks.quality.passage_report import render_targets, summarise, targets
from tests.live_server import LiveServer

LANGS = ("en-bbc", "fr", "zh", "ar")
MODES = ("text", "html")
INGEST_BATCH = 200
# The page a CMS sends around an article; none of it is text.
HTML_HEAD = "<!doctype html><html><head><title>t</title></head><body><article>"
HTML_TAIL = "</article></body></html>"


def _shifted(base: int, x: int) -> int:
    return base + x


def _escaped(base: int, text: str, x: int) -> int:
    return base + len(html.escape(text[:x], quote=False))


def render(paragraphs: list[Para], mode: str) -> tuple[str, list[Callable[[int], int]]]:
    """The body to post and, per paragraph, the map from an offset in its
    text to an offset in the body."""
    maps: list[Callable[[int], int]] = []
    if mode == "text":
        at = 0
        for p in paragraphs:
            maps.append(partial(_shifted, at))
            at += len(p.text) + 2
        return "\n\n".join(p.text for p in paragraphs), maps
    out, at = [HTML_HEAD], len(HTML_HEAD)
    for p in paragraphs:
        at += len("<p>")
        maps.append(partial(_escaped, at, p.text))
        block = html.escape(p.text, quote=False)
        out.append(f"<p>{block}</p>")
        at += len(block) + len("</p>")
    out.append(HTML_TAIL)
    return "".join(out), maps


def iou(a: Span, b: Span) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


def _ref(item: dict[str, Any]) -> tuple[str, tuple[str, int]]:
    return str(item["source"]), (str(item.get("document_id") or ""), int(item["paragraph_index"]))


def named(result: dict[str, Any]) -> set[tuple[str, tuple[str, int]]]:
    """Every source paragraph a paragraph result names, by a match or a passage."""
    return {_ref(m) for m in result.get("matches", [])} | {_ref(p) for p in result.get("passages", [])}


class Tally:
    def __init__(self) -> None:
        self.cells: dict[str, dict[str, Any]] = {}

    def cell(self, kind: str, lang: str, mode: str) -> dict[str, Any]:
        key = f"{kind}|{lang}|{mode}"
        return self.cells.setdefault(key, {"n": 0, "hit": 0, "iou_body": [], "iou_source": []})

    def score(self, case: Case, mode: str, answer: dict[str, Any], maps: list[Callable[[int], int]]) -> None:
        cell = self.cell(case.kind, case.lang, mode)
        results = answer["paragraphs"]
        if len(results) != len(case.paragraphs):
            raise RuntimeError(f"{case.kind}: sent {len(case.paragraphs)} paragraphs, got {len(results)}")
        for para, result, to_body in zip(case.paragraphs, results, maps, strict=True):
            if para.negative:
                cell["n"] += 1
                cell["hit"] += any(r[0] == "archive" for r in named(result))
            for want in para.expected:
                cell["n"] += 1
                cell["hit"] += self._expected(cell, want, result, to_body)
            if para.must_name:
                cell["n"] += 1
                names = named(result)
                wanted = [name in names for name in para.must_name]
                cell["hit"] += any(wanted) if para.any_name else all(wanted)

    @staticmethod
    def _expected(
        cell: dict[str, Any], want: Expected, result: dict[str, Any], to_body: Callable[[int], int]
    ) -> bool:
        same = [p for p in result.get("passages", []) if _ref(p) == (want.source, want.ref)]
        if not same:
            return (want.source, want.ref) in named(result)
        body = (to_body(want.span[0]), to_body(want.span[1]))
        best = max(same, key=lambda p: iou((int(p["start"]), int(p["end"])), body))
        cell["iou_body"].append(iou((int(best["start"]), int(best["end"])), body))
        if want.source_span is not None:
            cell["iou_source"].append(
                iou((int(best["source_start"]), int(best["source_end"])), want.source_span)
            )
        return True


def build_cases(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[Case]]:
    docs: list[dict[str, Any]] = []
    cases: list[Case] = []
    n = args.cases
    for name in args.corpus or LANGS:
        rng = random.Random(args.seed)
        pool = load(args.corpora, name, args.archive_docs + args.held_out_docs, rng)
        # A small corpus (254 Chinese documents) keeps 40 % of itself unseen.
        cut = min(args.archive_docs, len(pool) * 3 // 5)
        archive, held_out = pool[:cut], pool[cut:]
        docs += [{"id": d.id, "text": "\n\n".join(d.paragraphs)} for d in archive]
        b = Builder(CORPORA[name][1], archive, held_out, args.seed)
        made = b.inserted(n, False) + b.inserted(n, True) + b.merged(n // 2) + b.split(n // 2)
        made += b.repeated_sentence(n) + b.negatives(4 * n)
        if CORPORA[name][1] == "fr":
            made += b.natural(held_out, n)
        print(f"  {name}: {len(archive)} archived documents, {len(made)} cases", file=sys.stderr)
        cases += made
    return docs, cases


def _named_source(result: dict[str, Any], source: str) -> bool:
    """A match or a passage of the answer's own source."""
    return any(kind == "archive" and ref[0] == source for kind, ref in named(result))


def run(args: argparse.Namespace) -> dict[str, Any]:
    docs, cases = build_cases(args)
    docs += sources(args.corpora)
    env = paradup_env(args)
    tally, latencies = Tally(), []
    with tempfile.TemporaryDirectory() as tmp, LiveServer.paradup(f"sqlite:///{tmp}/p.db", env) as service:
        for i in range(0, len(docs), INGEST_BATCH):
            service.post("/ingest", {"documents": docs[i : i + INGEST_BATCH]})
        for mode in MODES:
            for case in cases:
                body, maps = render(case.paragraphs, mode)
                answer, seconds = service.post("/check", {"text": body, "format": mode})
                latencies.append(seconds * 1000)
                tally.score(case, mode, answer, maps)
        cs = flagged_by_label(service, args.corpora, _named_source)
    return {"cells": tally.cells, "clough_stevenson": cs, "latency_ms": _latency(latencies)}


def _latency(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"checks": len(ms), "median": statistics.median(ms), "p99": ms[int(0.99 * (len(ms) - 1))]}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Passage-level reuse against the issue's targets.")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--out", type=Path, help="write the full results as JSON here")
    parser.add_argument("--archive-docs", type=int, default=600, help="archived documents per corpus")
    parser.add_argument("--held-out-docs", type=int, default=400, help="unseen documents per corpus")
    parser.add_argument("--cases", type=int, default=60, help="cases per kind, corpus and format")
    parser.add_argument("--corpus", action="append", choices=LANGS, help="default: all four")
    parser.add_argument("--seed", type=int, default=13)
    add_paradup_env(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not corpora_present(args.corpora):
        return 2
    started = time.perf_counter()
    results = run(args)
    rows = targets(results)
    report = {
        "command": " ".join(["python -m benchmarks.quality.eval_passages", *(argv or sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": f"{platform.platform()}, python {platform.python_version()}",
        "seconds": round(time.perf_counter() - started, 1),
        "config": {k: str(v) for k, v in vars(args).items()},
        "targets": rows,
        "by_cell": summarise(results["cells"]),
        "clough_stevenson": results["clough_stevenson"],
        "latency_ms": results["latency_ms"],
    }
    print(render_targets(rows))
    lat = results["latency_ms"]
    print(f"latency median {lat['median']:.1f} ms, p99 {lat['p99']:.1f} ms over {lat['checks']} checks")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
