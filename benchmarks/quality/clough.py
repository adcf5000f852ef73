"""The Clough-Stevenson reuse answers and what both quality evaluations share
about running paradup on the corpora: the sources to ingest, the per-label
tally of answers flagged against their own source, server settings."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.quality.corpus import read_jsonl
from tests.live_server import LiveServer

CLOUGH_DOCS = "en_clough_stevenson_docs.jsonl"
CLOUGH_PAIRS = "pairs_clough_stevenson.jsonl"
# Names an answer's archived source in one paragraph result.
Flags = Callable[[dict[str, Any], str], bool]


def corpora_present(corpora: Path) -> bool:
    if (corpora / CLOUGH_PAIRS).exists():
        return True
    print(f"corpora not found in {corpora}: pass --corpora", file=sys.stderr)
    return False


def sources(corpora: Path) -> list[dict[str, Any]]:
    """The five Wikipedia sources the answers were written from, to ingest."""
    return [
        {"id": str(d["id"]), "text": str(d["text"])}
        for d in read_jsonl(corpora / CLOUGH_DOCS)
        if str(d["id"]).startswith("cs-orig")
    ]


def flagged_by_label(service: LiveServer, corpora: Path, flags: Flags) -> dict[str, dict[str, Any]]:
    """Per human label (cut / light / heavy / non): answers checked, and those
    with a paragraph that ``flags`` against their own source."""
    out: dict[str, dict[str, Any]] = {}
    for pair in read_jsonl(corpora / CLOUGH_PAIRS):
        answer, _ = service.post("/check", {"text": str(pair["text_b"])})
        flagged = any(flags(p, str(pair["id_a"])) for p in answer["paragraphs"])
        cell = out.setdefault(str(pair["category"]), {"n": 0, "flagged": 0})
        cell["n"] += 1
        cell["flagged"] += flagged
    return out


def add_paradup_env(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--paradup-env",
        action="append",
        default=[],
        metavar="PARADUP_X=V",
        help="setting for the paradup server, e.g. PARADUP_SHINGLE_SIZE=4 (for tuning)",
    )


def paradup_env(args: argparse.Namespace) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in args.paradup_env)
