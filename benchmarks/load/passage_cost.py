"""What passages cost: index bytes per paragraph and in-process check time,
before and after, on the same machine in the same run.

    .venv/bin/python -m benchmarks.load.passage_cost [--before TREE] [--paragraphs 50000]

Each variant runs in a child process on its own temporary SQLite store:
``bands`` is this tree with ``PARADUP_PASSAGES=false`` (no postings),
``passages`` this tree with the defaults, and ``before`` (with ``--before``)
another source tree, e.g. ``git archive <commit> | tar -x -C /tmp/before``
of the commit before passages. A child ingests the same archive (documents
of ../shared/corpora, read at run time, until the paragraph count is
reached), compacts the file (VACUUM) and reports its size and the band
table's packed entries per paragraph, then times ``Service.check`` on the
same articles of 10 paragraphs (unseen paragraphs, some with a quoted
archive sentence, some archived ones), after a warm-up, in wall-clock and
in CPU time. Rounds alternate
the variants so that a busy machine weighs on each alike.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.store.sqlite_driver import sqlite3

ROOT = Path(__file__).resolve().parents[2]
# ../shared/corpora beside the checkout, or beside the worktrees' directory.
CORPORA = next(
    (
        p
        for p in (ROOT.parent / "shared" / "corpora", ROOT.parent.parent / "shared" / "corpora")
        if p.is_dir()
    ),
    ROOT.parent / "shared" / "corpora",
)
NAMES = ("en-reuters", "en-bbc", "fr", "ar", "zh")


def _corpus_docs(corpora: Path, paragraphs: int) -> tuple[list[tuple[str, str]], list[str]]:
    """(id, text) of archived documents up to ``paragraphs`` paragraphs, and unseen paragraphs."""
    from benchmarks.quality.corpus import load

    rng = random.Random(13)
    archive: list[tuple[str, str]] = []
    unseen: list[str] = []
    count = 0
    for name in NAMES:
        docs = load(corpora, name, 100_000, rng)
        cut = int(len(docs) * 0.9)
        for doc in docs[cut:]:
            unseen += [p for p in doc.paragraphs if len(p) > 80]
        for doc in docs[:cut]:
            if count >= paragraphs * (NAMES.index(name) + 1) // len(NAMES):
                break
            archive.append((doc.id, "\n\n".join(doc.paragraphs)))
            count += len(doc.paragraphs)
    return archive, unseen


def _articles(archive: list[tuple[str, str]], unseen: list[str], count: int) -> list[str]:
    rng = random.Random(7)
    articles = []
    for _ in range(count):
        paragraphs = rng.sample(unseen, 10)
        archived = rng.choice(archive)[1].split("\n\n")
        paragraphs[3] = paragraphs[3] + " " + rng.choice(archived)  # a quoted archive paragraph
        paragraphs[7] = rng.choice(archived)  # a repeated one
        articles.append("\n\n".join(paragraphs))
    return articles


def child(corpora: Path, paragraphs: int, checks: int) -> dict[str, float]:
    from app.engine import Service
    from app.engine.service import DocumentInput
    from app.settings import Settings

    archive, unseen = _corpus_docs(corpora, paragraphs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cost.db"
        service = Service.open(Settings(store=f"sqlite:///{path}"))
        began = time.perf_counter()
        stored = 0
        for n in range(0, len(archive), 500):
            batch = [DocumentInput(i, t) for i, t in archive[n : n + 500]]
            stored += sum(r.paragraphs for r in service.ingest(batch))
        ingest_s = time.perf_counter() - began
        articles = _articles(archive, unseen, checks)
        for article in articles[:20]:
            service.check(article)
        times, cpu = [], []
        for article in articles:
            began, began_cpu = time.perf_counter(), time.process_time()
            service.check(article)
            times.append(1000 * (time.perf_counter() - began))
            cpu.append(1000 * (time.process_time() - began_cpu))
        service.close()
        with sqlite3.connect(path) as conn:
            packed = conn.execute("SELECT coalesce(sum(length(entries)), 0) FROM bands").fetchone()[0]
            conn.execute("VACUUM")
        size = sum(p.stat().st_size for p in Path(tmp).glob("cost.db*"))
    times.sort()
    return {
        # CPU time of the checking process: what other processes on a busy
        # machine do not inflate (the store is in process, SQLite included).
        "check_cpu_ms_mean": statistics.fmean(cpu),
        "paragraphs": stored,
        "file_bytes_per_paragraph": size / stored,
        "band_entry_bytes_per_paragraph": packed / stored,
        "ingest_paragraphs_per_s": stored / ingest_s,
        "check_ms_median": statistics.median(times),
        "check_ms_p99": times[int(0.99 * (len(times) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    parser.add_argument("--before", type=Path, help="source tree of the code before passages")
    parser.add_argument("--paragraphs", type=int, default=50_000)
    parser.add_argument("--checks", type=int, default=300, help="articles of 10 paragraphs timed")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.corpora.is_dir():
        raise SystemExit(f"corpora not found at {args.corpora}: pass --corpora")
    if args.child:
        print(json.dumps(child(args.corpora, args.paragraphs, args.checks)))
        return
    variants = {"bands": (ROOT, {"PARADUP_PASSAGES": "false"}), "passages": (ROOT, {})}
    if args.before:
        variants = {"before": (args.before.resolve(), {}), **variants}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (tree, env) in variants.items():
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                "--corpora",
                str(args.corpora),
            ]
            command += ["--paragraphs", str(args.paragraphs), "--checks", str(args.checks)]
            quiet = {"PARADUP_LOG_LEVEL": "warning"}
            run_env = {**os.environ, **quiet, **env, "PYTHONPATH": f"{tree}:{ROOT}"}
            out = subprocess.run(command, env=run_env, capture_output=True, text=True, check=True, cwd=tree)
            results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(name, results[name][-1], flush=True)
    for name, runs in results.items():
        keys = runs[0].keys()
        best = {k: statistics.median(r[k] for r in runs) for k in keys}
        print(f"{name:9}", " ".join(f"{k}={v:.1f}" for k, v in best.items()))


if __name__ == "__main__":
    main()
