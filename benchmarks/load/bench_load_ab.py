"""Two versions of paradup side by side in one run (``bench_load --baseline-ref REF``).

"before" is REF, checked out into a temporary detached git worktree; "after"
is this checkout. Each runs from its own source tree (cwd and PYTHONPATH
there, the same virtualenv). Per size both versions get the same archive
file and the same check articles, and each ingests them into its own store
with its own ``paradup ingest`` (after a small untimed ingest that compiles
and caches its numba kernels). Then rounds alternate between the versions,
the one going first flipping every round (see ab.round_order); a round of
one version starts ``paradup serve --workers 2`` on its store and measures:

* start-up: seconds from spawn to the first answered ``/check``;
* one connection, sequential ``/check`` of the 10-paragraph articles:
  client-side p50 / p99 (after a warm-up), with http.client and with
  httpx (benchmarks/load/clients.py);
* wrk on the same server (2 workers): checks/s and its p99.

The summary is the median over rounds of each version and the median of
the per-round ratios after / before. The stores' bytes are broken down per
table and index with SQLite's dbstat. The worktree is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks.load.ab import AFTER, BEFORE, bytes_beyond_text, median, round_order, summarise
from benchmarks.load.clients import one_connection, sequential
from benchmarks.load.scale_corpus import Source, cached_inputs, write_inputs
from benchmarks.load.tools import (
    ROOT,
    cli_ingest,
    load_average,
    memory,
    paradup_server,
    store_bytes,
    wait_resident,
    wrk,
)

WARMUP_DOCUMENTS = 200


@dataclass(frozen=True)
class Version:
    label: str
    ref: str
    commit: str
    subject: str
    root: Path
    # Uncommitted changes in the tree it runs from (they are measured too).
    dirty: bool
    # PARADUP_ settings it is served with (``--resident-ab``: the same code
    # before and after, one setting apart).
    settings: dict[str, str] = field(default_factory=dict)


def _git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def describe(label: str, ref: str, root: Path) -> Version:
    commit, _, subject = _git("log", "-1", "--format=%H %s", cwd=root).partition(" ")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no", cwd=root))
    return Version(label, ref, commit, subject, root, dirty)


def _one_code(versions: dict[str, Version]) -> bool:
    """Both versions run the same code (``--resident-ab``): one ingest, one store."""
    return versions[BEFORE].root == versions[AFTER].root


@contextmanager
def checkout(ref: str, work: Path) -> Iterator[Path]:
    """``ref`` checked out (detached) into a temporary worktree, removed on exit."""
    path = work / "baseline-src"
    _git("worktree", "add", "--detach", "--quiet", str(path), ref)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


# dbstat is compiled into the standard library's SQLite here but not into
# pysqlite3's (app/store/sqlite_driver.py), so the count runs in a child
# process on the standard module: in this process it would be a second SQLite
# library beside the store's, which two libraries in one process must never
# share (tests/test_architecture.py, test_one_sqlite_library_in_every_process).
_DBSTAT = """
import json, sqlite3, sys
with sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True) as conn:
    try:
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:
        rows = None
print(json.dumps(rows))
"""


def table_bytes(store: Path) -> dict[str, int]:
    """Bytes of each table and index of the SQLite file (dbstat); the whole
    file under one name when this SQLite lacks dbstat."""
    out = subprocess.run(
        [sys.executable, "-I", "-c", _DBSTAT, str(store)], check=True, capture_output=True, text=True
    ).stdout
    rows = json.loads(out)
    if rows is None:
        return {"(file, no dbstat)": store.stat().st_size}
    return {str(name): int(size) for name, size in rows}


def warm_ingest(version: Version, archive: Path, work: Path) -> None:
    """An untimed ingest of the archive's first documents with the version's
    CLI: a fresh checkout compiles and caches its numba kernels here."""
    warm_archive = work / f"warm-{version.label}.jsonl"
    with archive.open(encoding="utf-8") as lines, warm_archive.open("w", encoding="utf-8") as out:
        for _, line in zip(range(WARMUP_DOCUMENTS), lines, strict=False):
            out.write(line)
    warm_store = work / f"warm-{version.label}.db"
    cli_ingest(warm_store, warm_archive, 1, version.root)
    for p in (warm_archive, *warm_store.parent.glob(warm_store.name + "*")):
        p.unlink()


def remove_store(store: Path) -> None:
    for p in store.parent.glob(store.name + "*"):
        p.unlink()


def ingest_version(version: Version, archive: Path, meta: dict[str, Any], work: Path) -> dict[str, Any]:
    """The version's CLI ingests the archive into its own new store."""
    store = work / f"ab-{version.label}-{meta['paragraphs']}.db"
    remove_store(store)
    # The archive's (or the other store's) dirty pages are written out now,
    # not during this ingest.
    os.sync()
    result: dict[str, Any] = {"store": store}
    result["cli_ingest"] = cli_ingest(store, archive, meta["paragraphs"], version.root)
    size = store_bytes(store)
    tables = table_bytes(store)
    result["disk"] = {
        "store_bytes": size,
        "bytes_per_paragraph": round(size / meta["paragraphs"], 1),
        "beyond_text_per_paragraph": round((size - meta["text_bytes"]) / meta["paragraphs"], 1),
        "tables_bytes": tables,
        "tables_per_paragraph": bytes_beyond_text(tables, meta["text_bytes"], meta["paragraphs"]),
    }
    return result


def warm_start(version: Version, store: Path, first: bytes, work: Path) -> None:
    """One untimed start of the version's server: whatever its first
    start compiles or caches (numba kernels the CLI did not use) is not
    counted in round 0."""
    server = paradup_server(
        store, 2, work / f"warm-{version.label}.log", version.root, settings=version.settings
    ).start()
    try:
        server.wait_first("/check", first)
    finally:
        server.stop()
    (work / f"warm-{version.label}.log").unlink()


def median_ingest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median ingest rate of a version's runs, with every run."""
    return {"paragraphs_per_s": round(median([r["paragraphs_per_s"] for r in runs])), "runs": runs}


def measure_round(
    version: Version, store: Path, bodies: Path, number: int, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    lines = [line.encode() for line in bodies.read_text(encoding="utf-8").splitlines()]
    log = work / f"ab-{version.label}-{number}.log"
    if args.idle:
        time.sleep(args.idle)  # the store unused, as between a CMS's checks
    server = paradup_server(store, 2, log, version.root, settings=version.settings).start()
    try:
        startup = server.wait_first("/check", lines[0])
        resident = wait_resident(server, store, version.settings)
        sequential(server.url, lines, args.warmup)  # caches, lazy imports, both workers' first checks
        clients = one_connection(server.url, lines, args.sequential_checks)
        load = wrk(server.url, bodies, args.seconds, args.connections, args.threads, work)
        pids = server.pids()
        rss = [memory(pid) for pid in pids[1:] or pids]
    finally:
        server.stop()
    log.unlink()
    seq, seq_httpx = clients["stdlib"], clients["httpx"]
    return {
        "round": number,
        "label": version.label,
        "startup_s": round(startup, 3),
        **({"resident_after_s": resident} if resident is not None else {}),
        "sequential_p50_ms": seq["p50_ms"],
        "sequential_p99_ms": seq["p99_ms"],
        "sequential_mean_ms": seq["mean_ms"],
        "sequential_count": seq["count"],
        "sequential_errors": seq["errors"] + seq_httpx["errors"],
        "sequential_httpx_p50_ms": seq_httpx["p50_ms"],
        "sequential_httpx_p99_ms": seq_httpx["p99_ms"],
        "health_p50_ms": {c: clients[c]["health_p50_ms"] for c in clients},
        "checks_per_s": load["rps"],
        "load_p50_ms": load["p50_ms"],
        "load_p99_ms": load["p99_ms"],
        "load_errors": load["errors"],
        "rss": rss,
        "load_average": load_average(),
    }


def run_size(
    n: int, sources: list[Source], versions: dict[str, Version], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    compared_to = (
        f"{args.baseline_ref} against this checkout"
        if args.baseline_ref
        else f"this checkout, PARADUP_RESIDENT off against {args.resident_ab}"
    )
    print(f"\n== {n:,} paragraphs, {compared_to}", file=sys.stderr)
    start = time.perf_counter()
    if args.cache:  # the files an earlier run kept, or new ones kept for the next
        archive, bodies, out = cached_inputs(sources, args.corpora, n, args.articles, args.cache)
    else:
        archive, bodies, out = write_inputs(sources, n, args.articles, work)
    out["archive_seconds"] = round(time.perf_counter() - start, 2)
    print(f"archive {out}", file=sys.stderr)
    ingesting = (AFTER,) if _one_code(versions) else (BEFORE, AFTER)
    for label in ingesting:
        warm_ingest(versions[label], archive, work)
    stores: dict[str, Path] = {}
    runs: dict[str, list[dict[str, Any]]] = {BEFORE: [], AFTER: []}
    out["versions"] = {}
    for _, label in round_order(args.ingest_rounds, ingesting):
        result = ingest_version(versions[label], archive, out, work)
        stores[label] = result.pop("store")
        runs[label].append(result["cli_ingest"])
        out["versions"][label] = {**result, "cli_ingest": median_ingest(runs[label])}
        print(f"{label} ingest {result['cli_ingest']}, disk {result['disk']}", file=sys.stderr)
    if _one_code(versions):
        stores[BEFORE] = stores[AFTER]
        out["versions"][BEFORE] = out["versions"][AFTER]
    if not args.cache:
        archive.unlink()
    first = bodies.read_text(encoding="utf-8").split("\n", 1)[0].encode()
    for label in (BEFORE, AFTER):
        warm_start(versions[label], stores[label], first, work)
    out["rounds"] = []
    for number, label in round_order(args.rounds):
        entry = measure_round(versions[label], stores[label], bodies, number, args, work)
        out["rounds"].append(entry)
        print(
            f"round {number} {label}: start-up {entry['startup_s']} s, 1 connection p50/p99 "
            f"{entry['sequential_p50_ms']}/{entry['sequential_p99_ms']} ms, {entry['checks_per_s']} checks/s",
            file=sys.stderr,
        )
    out["summary"] = summarise(out["rounds"])
    for store in set(stores.values()):
        remove_store(store)
    if not args.cache:
        bodies.unlink()
    return out


def compared(args: argparse.Namespace, stack: contextlib.ExitStack, work: Path) -> dict[str, Version]:
    """The two versions a run compares; a baseline's worktree lives as long
    as ``stack``."""
    if args.resident_ab:
        here = describe(AFTER, "HEAD", ROOT)
        return {
            BEFORE: replace(here, label=BEFORE, settings={"PARADUP_RESIDENT": "off"}),
            AFTER: replace(here, settings={"PARADUP_RESIDENT": args.resident_ab}),
        }
    baseline_root = stack.enter_context(checkout(args.baseline_ref, work))
    return {BEFORE: describe(BEFORE, args.baseline_ref, baseline_root), AFTER: describe(AFTER, "HEAD", ROOT)}


def run_ab(
    sizes: list[int],
    sources: list[Source],
    args: argparse.Namespace,
    work: Path,
    report: dict[str, Any],
    save: Callable[[], None],
) -> None:
    """Fills ``report`` with both versions' figures per size, saving after
    each: ``--baseline-ref`` against this checkout, or (``--resident-ab``)
    this checkout served without and with PARADUP_RESIDENT."""
    with contextlib.ExitStack() as stack:
        versions = compared(args, stack, work)
        report["versions"] = {
            v.label: {
                "ref": v.ref,
                "commit": v.commit,
                "subject": v.subject,
                "dirty": v.dirty,
                "settings": v.settings,
            }
            for v in versions.values()
        }
        report["rounds"] = args.rounds
        report["idle_s"] = args.idle
        report["sequential_checks"] = args.sequential_checks
        for n in sizes:
            report["sizes"].append(run_size(n, sources, versions, args, work))
            save()
