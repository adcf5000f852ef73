"""Scale benchmark: ingest, start-up, latency, throughput, memory and disk at
each size (1M and 10M archived paragraphs for issue 15), beside a plain
datasketch service, with the issue's targets judged met or missed.

    .venv/bin/python -m benchmarks.load.bench_load [--paragraphs 1000000,10000000]
        [--corpora /work/shared/corpora] [--cache DIR] [--out benchmarks/out/load.json]
        [--results benchmarks/RESULTS.md] [--seconds 20] [--baseline-max 100000]

For each size it writes an archive of distinct paragraphs grown from the
corpora (see benchmarks/load/scale_corpus.py for how variants are made) to a
temporary JSONL (or reuses the one ``--cache DIR`` kept from an earlier run),
runs an untimed warm-up (numba kernels compiled and cached), then measures:

* ``paradup ingest FILE`` of all but the archive's last documents into a new
  SQLite store: wall time, paragraphs/s;
* HTTP batch ingest of those last documents (``--http-paragraphs``, at most
  a tenth of the size) into the same store through ``paradup serve
  --workers 2``: ``POST /ingest {"documents": [...]}`` of ~5,000 paragraphs
  each, from two clients: paragraphs/s on an archive of this size;
* bytes on disk beyond the text: store files minus the UTF-8 text bytes;
* a fresh ``paradup serve --workers 2`` on that store: seconds from spawn
  to the first answered ``/check``; ``--sequential-checks`` back-to-back
  checks of 10-paragraph articles (5 archived, 5 unseen) on one connection
  (client-side p50 / p99, taken with http.client and with httpx in
  alternating blocks: see benchmarks/load/clients.py); then wrk for ``--seconds`` (checks/s, latency);
  server-side latency from the JSON access log; each worker's memory, its
  private part (RssAnon, page cache excluded) beside VmRSS;
* the same for ``benchmarks.baseline_datasketch`` (one process: its index
  lives in that process's memory), up to ``--baseline-max`` paragraphs.

Each size gets the issue's targets, met or missed (benchmarks/load/targets.py),
and consecutive sizes the growth of checks/s and p99.

With ``--baseline-ref GITREF`` it measures two versions instead: GITREF
("before") beside this checkout ("after"), in alternating rounds, and
neither HTTP ingest nor datasketch; see benchmarks/load/bench_load_ab.py.

Skips with a message when the corpora are absent. Corpus text only goes to
temporary files, deleted at the end, or to the cache directory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from app.store.resident import MODES
from benchmarks.common import DEFAULT_CORPORA, machine_info
from benchmarks.load.bench_load_ab import run_ab
from benchmarks.load.clients import one_connection, sequential
from benchmarks.load.report import update_ab_results, update_results
from benchmarks.load.scale_corpus import CorporaMissing, cached_inputs, load_sources, write_inputs
from benchmarks.load.targets import growth, judge
from benchmarks.load.tools import (
    ROOT,
    Server,
    baseline_server,
    cli_ingest,
    cpu_seconds,
    line_count,
    load_average,
    memory,
    paradup_server,
    server_timings,
    service_python,
    store_bytes,
    summary_ms,
    wait_resident,
    wrk,
)

# Paragraphs per HTTP ingest request (whole documents: a request may hold a few more).
HTTP_BATCH_PARAGRAPHS = 5000
WARMUP_DOCUMENTS = 200


def paragraph_count(line: str) -> int:
    return str(json.loads(line)["text"]).count("\n\n") + 1


def split_archive(archive: Path, http_paragraphs: int, work: Path) -> tuple[Path, list[str], int]:
    """The archive without its last documents (a file for ``paradup ingest``),
    and those last documents' lines, holding at least ``http_paragraphs``
    paragraphs (for HTTP ingest into the CLI-built store); with their count.
    One streaming pass: a 10M archive is a few GB."""
    if not http_paragraphs:
        return archive, [], 0
    head = work / f"head-{archive.name}"
    held: deque[tuple[str, int]] = deque()  # the last lines read, at least http_paragraphs
    counted = 0
    with archive.open(encoding="utf-8") as lines, head.open("w", encoding="utf-8") as out:
        for line in lines:
            held.append((line, paragraph_count(line)))
            counted += held[-1][1]
            while counted - held[0][1] >= http_paragraphs:
                out.write(held[0][0])
                counted -= held.popleft()[1]
    return head, [line for line, _ in held], counted


def post_batches(url: str, lines: list[str], clients: int = 2) -> dict[str, Any]:
    """POST /ingest ``{"documents": [...]}`` of about HTTP_BATCH_PARAGRAPHS
    paragraphs each (and at most the server's documents per request), from
    ``clients`` threads; paragraphs per second, counting accepted requests only."""
    most = Settings().max_batch_documents
    batches: list[tuple[bytes, int]] = []
    docs: list[str] = []
    size = 0
    for line in lines:
        docs.append(line.strip())
        size += paragraph_count(line)
        if size >= HTTP_BATCH_PARAGRAPHS or len(docs) == most:
            batches.append((('{"documents": [' + ",".join(docs) + "]}").encode(), size))
            docs, size = [], 0
    if docs:
        batches.append((('{"documents": [' + ",".join(docs) + "]}").encode(), size))
    failures: list[str] = []
    accepted: list[int] = []

    def client(mine: list[tuple[bytes, int]]) -> None:
        with httpx.Client(timeout=600) as http:
            for body, count in mine:
                r = http.post(url + "/ingest", content=body, headers={"content-type": "application/json"})
                if r.status_code == 200:
                    accepted.append(count)
                else:
                    failures.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=client, args=(batches[i::clients],)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    paragraphs = sum(accepted)
    return {
        "paragraphs": paragraphs,
        "requests": len(batches),
        "paragraphs_per_request": round(sum(c for _, c in batches) / max(len(batches), 1)),
        "clients": clients,
        "seconds": round(elapsed, 2),
        "paragraphs_per_s": round(paragraphs / elapsed),
        "failed_requests": len(failures),
        "errors": failures[:5],
        "load_average": load_average(),
    }


def under_load(
    server: Server, bodies: Path, args: argparse.Namespace, work: Path, store: Path | None = None
) -> dict[str, Any]:
    lines = [line.encode() for line in bodies.read_text(encoding="utf-8").splitlines()]
    startup = server.wait_first("/check", lines[0])
    # CPU the master and its workers had used by the first answer: the
    # start-up's cost whatever else the shared cores are running.
    startup_cpu = [round(cpu_seconds(pid), 3) for pid in server.pids()]
    resident = wait_resident(server, store, served(args)) if store else None
    sequential(server.url, lines, args.warmup)  # caches, lazy imports, both workers' first checks
    clients = one_connection(server.url, lines, args.sequential_checks)
    before = line_count(server.log)
    result = wrk(server.url, bodies, args.seconds, args.connections, args.threads, work)
    result["startup_s"] = round(startup, 3)
    result["startup_cpu_s"] = startup_cpu
    if resident is not None:
        result["resident_after_s"] = resident
    result["sequential"] = clients["stdlib"]
    result["sequential_httpx"] = clients["httpx"]
    timings = server_timings(server.log, "/check", before)
    if timings:
        result["server"] = summary_ms(timings)
    pids = server.pids()
    workers = pids[1:] or pids
    result["rss"] = [memory(pid) for pid in workers]
    result["load_average"] = load_average()
    return result


def warm_up(archive: Path, work: Path, python: Path | None) -> None:
    """An untimed ingest of a few documents and an untimed server start: a
    fresh checkout compiles and caches its numba kernels here, not in a figure."""
    warm_archive, warm_store = work / "warm.jsonl", work / "warm.db"
    with archive.open(encoding="utf-8") as lines:
        warm_archive.write_text(
            "".join(line for _, line in zip(range(WARMUP_DOCUMENTS), lines, strict=False))
        )
    cli_ingest(warm_store, warm_archive, 1, python=python)
    server = paradup_server(warm_store, 2, work / "warm.log", python=python).start()
    try:
        server.wait_first("/check", b'{"text": "warm up"}')
    finally:
        server.stop()
    for p in (warm_archive, work / "warm.log", *warm_store.parent.glob(warm_store.name + "*")):
        p.unlink()


def served(args: argparse.Namespace) -> dict[str, str]:
    """The settings paradup is served with (``--resident``)."""
    return {} if args.resident == "off" else {"PARADUP_RESIDENT": args.resident}


def run_size(n: int, sources: list[Any], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print(f"\n== {n:,} paragraphs", file=sys.stderr)
    started = time.perf_counter()
    if args.cache:
        archive, bodies, out = cached_inputs(sources, args.corpora, n, args.articles, args.cache)
    else:
        archive, bodies, out = write_inputs(sources, n, args.articles, work)
    out["archive_seconds"] = round(time.perf_counter() - started, 2)
    print(f"archive {out}", file=sys.stderr)
    paragraphs, text_bytes = out["paragraphs"], out["text_bytes"]
    python = args.service_python
    warm_up(archive, work, python)

    # The CLI ingests all but the last documents; HTTP batches add those to
    # the same store, so both rates are measured on an archive of this size.
    head, tail, http_paragraphs = split_archive(archive, min(args.http_paragraphs, n // 10), work)
    store = work / f"cli-{n}.db"
    out["cli_ingest"] = {
        **cli_ingest(store, head, paragraphs - http_paragraphs, python=python),
        "paragraphs": paragraphs - http_paragraphs,
    }
    if head != archive:
        head.unlink()
    print(f"cli ingest {out['cli_ingest']}", file=sys.stderr)
    if tail:
        server = paradup_server(
            store, 2, work / f"http-{n}.log", python=python, settings=served(args)
        ).start()
        try:
            server.wait_first("/check", b'{"text": "warm up"}')
            out["http_ingest"] = post_batches(server.url, tail)
        finally:
            server.stop()
        print(f"http ingest {out['http_ingest']}", file=sys.stderr)
    size = store_bytes(store)
    out["disk"] = {
        "store_bytes": size,
        "bytes_per_paragraph": round(size / paragraphs, 1),
        "beyond_text_per_paragraph": round((size - text_bytes) / paragraphs, 1),
    }
    print(f"disk {out['disk']}", file=sys.stderr)
    # Any dirty pages of the bulk load are written out before the timed
    # serving, not during it; how long that took is reported (0.0 s at 10M
    # on 2026-12-03: writeback was not what slowed that run's serving).
    started = time.perf_counter()
    os.sync()
    out["sync_before_serving_s"] = round(time.perf_counter() - started, 2)

    server = paradup_server(store, 2, work / f"serve-{n}.log", python=python, settings=served(args)).start()
    try:
        out["paradup"] = under_load(server, bodies, args, work, store)
    finally:
        server.stop()
    print(f"paradup {out['paradup']}", file=sys.stderr)

    if n <= args.baseline_max:
        server = baseline_server(work / f"baseline-{n}.log").start()
        try:
            server.wait_first("/check", b'{"text": "warm up"}')
            idle = memory(server.pids()[0])["VmRSS"]
            ingest = post_batches(server.url, archive.read_text(encoding="utf-8").splitlines(), clients=1)
            result = under_load(server, bodies, args, work)
            result["ingest"] = ingest
            result["rss_growth_per_paragraph"] = round((result["rss"][0]["VmRSS"] - idle) / paragraphs)
            out["datasketch"] = result
        finally:
            server.stop()
        print(f"datasketch {out['datasketch']}", file=sys.stderr)
    out["targets"] = judge(out)
    for p in store.parent.glob(store.name + "*"):
        p.unlink()
    if not args.cache:
        archive.unlink()
        bodies.unlink()
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
        "--http-paragraphs",
        type=int,
        default=100_000,
        help="paragraphs ingested over HTTP on top of the CLI-built store (at most a tenth of the size)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="keep each size's archive and check articles here and reuse them in later runs",
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
        "--sequential-checks",
        type=int,
        default=500,
        help="one-connection checks (per round: --baseline-ref)",
    )
    parser.add_argument(
        "--service-venv",
        type=Path,
        metavar="DIR",
        help="run paradup from this checkout installed in the virtual environment DIR (pip install ., "
        "made when missing), as the service is deployed, instead of from the source tree",
    )
    parser.add_argument(
        "--resident",
        choices=MODES,
        default="off",
        help="serve paradup with PARADUP_RESIDENT set to this (its store's pages locked in memory)",
    )
    parser.add_argument(
        "--resident-ab",
        choices=MODES[1:],
        help="measure this checkout served with PARADUP_RESIDENT off (before) and set to this (after), "
        "in alternating rounds on one store",
    )
    parser.add_argument(
        "--idle",
        type=int,
        default=0,
        metavar="SECONDS",
        help="with --baseline-ref or --resident-ab: the store sits unused this long before each round, as "
        "between a CMS's checks (a reclaimer that pages idle memory out then acts)",
    )
    args = parser.parse_args()
    if args.service_venv and (args.baseline_ref or args.resident_ab):
        parser.error("--service-venv measures one version: leave out --baseline-ref and --resident-ab")
    if args.baseline_ref and args.resident_ab:
        parser.error("--baseline-ref and --resident-ab are two kinds of before and after: choose one")
    args.service_python = service_python(args.service_venv) if args.service_venv else None
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
            "service_python": str(args.service_python or sys.executable),
        },
        "settings": {
            "num_perm": s.num_perm,
            "lsh_threshold": s.lsh_threshold,
            "shingle_size": s.shingle_size,
            "resident": args.resident_ab or args.resident,
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
        if args.baseline_ref or args.resident_ab:
            run_ab(sizes, sources, args, Path(tmp), report, save)
        else:
            for n in sizes:
                report["sizes"].append(run_size(n, sources, args, Path(tmp)))
                report["growth"] = growth(report["sizes"])
                save()
    print(f"wrote {args.out}", file=sys.stderr)
    if args.results:
        (update_ab_results if args.baseline_ref or args.resident_ab else update_results)(args.results, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
