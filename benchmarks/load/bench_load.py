"""Scale benchmark: ingest, start-up, latency under load, memory and disk at
10k, 100k and 1M archived paragraphs, beside a plain datasketch service.

    .venv/bin/python -m benchmarks.load.bench_load [--paragraphs 10000,100000,1000000]
        [--corpora /work/shared/corpora] [--out benchmarks/out/load.json]
        [--results benchmarks/RESULTS.md] [--seconds 20] [--baseline-max 100000]

For each size it writes an archive of distinct paragraphs grown from the
corpora (see benchmarks/load/scale_corpus.py for how variants are made) to a
temporary JSONL, then measures:

* ``paradup ingest FILE`` into a new SQLite store: wall time, paragraphs/s;
* HTTP batch ingest (``POST /ingest {"documents": [...]}``, 1000 documents
  per request, two clients) into another new store, capped at
  ``--http-paragraphs``;
* bytes on disk beyond the text: store files minus the UTF-8 text bytes;
* ``paradup serve --workers 2`` on the CLI-built store: seconds from spawn
  to the first answered ``/check``; then wrk for ``--seconds`` with POSTs of
  10-paragraph articles (5 archived, 5 unseen): client-side latency and
  throughput; server-side latency from the JSON access log (the time the
  observability middleware measures for each request); VmRSS of each worker;
* the same for ``benchmarks.baseline_datasketch`` (one process: its index
  lives in that process's memory), up to ``--baseline-max`` paragraphs.

With ``--baseline-ref GITREF`` it measures two versions instead: GITREF
("before") beside this checkout ("after"), in alternating rounds, and
neither HTTP ingest nor datasketch; see benchmarks/load/bench_load_ab.py.

Skips with a message when the corpora are absent. Corpus text only goes to
temporary files, deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from benchmarks.common import DEFAULT_CORPORA, machine_info
from benchmarks.load.bench_load_ab import run_ab
from benchmarks.load.report import update_ab_results, update_results
from benchmarks.load.scale_corpus import CorporaMissing, load_sources, write_inputs
from benchmarks.load.tools import (
    ROOT,
    Server,
    baseline_server,
    cli_ingest,
    line_count,
    load_average,
    memory,
    paradup_server,
    server_timings,
    store_bytes,
    summary_ms,
    wrk,
)

HTTP_BATCH = 1000


def post_batches(url: str, archive: Path, max_paragraphs: int, clients: int = 2) -> dict[str, Any]:
    """POST /ingest batches from the archive file; paragraphs per second."""
    batches: list[bytes] = []
    docs: list[str] = []
    paragraphs = 0
    with archive.open(encoding="utf-8") as lines:
        for line in lines:
            if paragraphs >= max_paragraphs:
                break
            docs.append(line.strip())
            paragraphs += json.loads(line)["text"].count("\n\n") + 1
            if len(docs) == HTTP_BATCH:
                batches.append(('{"documents": [' + ",".join(docs) + "]}").encode())
                docs = []
    if docs:
        batches.append(('{"documents": [' + ",".join(docs) + "]}").encode())
    failures: list[str] = []

    def client(mine: list[bytes]) -> None:
        with httpx.Client(timeout=600) as http:
            for body in mine:
                r = http.post(url + "/ingest", content=body, headers={"content-type": "application/json"})
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=client, args=(batches[i::clients],)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {
        "paragraphs": paragraphs,
        "requests": len(batches),
        "seconds": round(elapsed, 2),
        "paragraphs_per_s": round(paragraphs / elapsed),
        "errors": failures[:5],
    }


def under_load(server: Server, bodies: Path, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    first = bodies.read_text(encoding="utf-8").splitlines()
    startup = server.wait_first("/check", first[0].encode())
    with httpx.Client(timeout=60) as http:  # warm-up: caches, lazy imports, thread pools
        for body in first[: args.warmup]:
            http.post(
                server.url + "/check", content=body.encode(), headers={"content-type": "application/json"}
            )
    before = line_count(server.log)
    result = wrk(server.url, bodies, args.seconds, args.connections, args.threads, work)
    result["startup_s"] = round(startup, 3)
    timings = server_timings(server.log, "/check", before)
    if timings:
        result["server"] = summary_ms(timings)
    pids = server.pids()
    workers = pids[1:] or pids
    result["rss"] = [memory(pid) for pid in workers]
    result["load_average"] = load_average()
    return result


def run_size(n: int, sources: list[Any], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print(f"\n== {n:,} paragraphs", file=sys.stderr)
    archive, bodies, out = write_inputs(sources, n, args.articles, work)
    paragraphs, text_bytes = out["paragraphs"], out["text_bytes"]

    store = work / f"cli-{n}.db"
    out["cli_ingest"] = cli_ingest(store, archive, paragraphs)
    size = store_bytes(store)
    out["disk"] = {
        "store_bytes": size,
        "bytes_per_paragraph": round(size / paragraphs, 1),
        "beyond_text_per_paragraph": round((size - text_bytes) / paragraphs, 1),
    }
    print(f"cli ingest {out['cli_ingest']}, disk {out['disk']}", file=sys.stderr)

    http_store = work / f"http-{n}.db"
    server = paradup_server(http_store, 2, work / f"http-{n}.log").start()
    try:
        server.wait_first("/check", b'{"text": "warm up"}')
        out["http_ingest"] = post_batches(server.url, archive, min(n, args.http_paragraphs))
    finally:
        server.stop()
    for p in http_store.parent.glob(http_store.name + "*"):
        p.unlink()
    print(f"http ingest {out['http_ingest']}", file=sys.stderr)

    server = paradup_server(store, 2, work / f"serve-{n}.log").start()
    try:
        out["paradup"] = under_load(server, bodies, args, work)
    finally:
        server.stop()
    print(f"paradup {out['paradup']}", file=sys.stderr)

    if n <= args.baseline_max:
        server = baseline_server(work / f"baseline-{n}.log").start()
        try:
            server.wait_first("/check", b'{"text": "warm up"}')
            idle = memory(server.pids()[0])["VmRSS"]
            ingest = post_batches(server.url, archive, n, clients=1)
            result = under_load(server, bodies, args, work)
            result["ingest"] = ingest
            result["rss_growth_per_paragraph"] = round((result["rss"][0]["VmRSS"] - idle) / paragraphs)
            out["datasketch"] = result
        finally:
            server.stop()
        print(f"datasketch {out['datasketch']}", file=sys.stderr)
    for p in (archive, *store.parent.glob(store.name + "*")):
        p.unlink()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", default="10000,100000,1000000", help="comma-separated sizes")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "load.json")
    parser.add_argument("--results", type=Path, help="update the Scale section of this RESULTS.md")
    parser.add_argument("--seconds", type=int, default=20, help="wrk duration per run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--articles", type=int, default=300, help="distinct check bodies")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument(
        "--http-paragraphs", type=int, default=100_000, help="cap on HTTP-ingested paragraphs"
    )
    parser.add_argument("--baseline-max", type=int, default=100_000, help="largest size for datasketch")
    parser.add_argument(
        "--baseline-ref",
        metavar="GITREF",
        help="measure this commit (before) against this checkout (after), in alternating rounds",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per version with --baseline-ref")
    parser.add_argument(
        "--ingest-rounds", type=int, default=1, help="CLI ingests per version with --baseline-ref"
    )
    parser.add_argument(
        "--sequential-checks", type=int, default=500, help="one-connection checks per round (--baseline-ref)"
    )
    args = parser.parse_args()
    try:
        sources = load_sources(args.corpora)
    except CorporaMissing as exc:
        print(f"skipped: {exc} (set --corpora or PARADUP_CORPORA)", file=sys.stderr)
        return 0
    s = Settings()
    report: dict[str, Any] = {
        "machine": {
            **machine_info(["datasketch", "numpy", "numba", "uvicorn", "fastapi"]),
            "command": " ".join([".venv/bin/python -m benchmarks.load.bench_load", *sys.argv[1:]]),
        },
        "settings": {
            "num_perm": s.num_perm,
            "lsh_threshold": s.lsh_threshold,
            "shingle_size": s.shingle_size,
        },
        "wrk": {"seconds": args.seconds, "connections": args.connections, "threads": args.threads},
        "sizes": [],
    }
    from app.engine import Fingerprinter

    bands = Fingerprinter.create(s.num_perm, s.shingle_size, s.lsh_threshold, s.min_shingles).bands
    report["settings"]["bands"] = f"{bands.bands}x{bands.rows}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sizes = [int(x) for x in args.paragraphs.split(",")]

    def save() -> None:
        args.out.write_text(json.dumps(report, indent=2))

    with tempfile.TemporaryDirectory(prefix="paradup-load-") as tmp:
        if args.baseline_ref:
            run_ab(sizes, sources, args, Path(tmp), report, save)
        else:
            for n in sizes:
                report["sizes"].append(run_size(n, sources, args, Path(tmp)))
                save()
    print(f"wrote {args.out}", file=sys.stderr)
    if args.results:
        (update_ab_results if args.baseline_ref else update_results)(args.results, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
