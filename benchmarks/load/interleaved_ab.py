"""Two versions of paradup serving one store at the same time, measured in
short alternating turns: a before/after comparison that a slow minute of
the machine cannot decide.

    .venv/bin/python -m benchmarks.load.interleaved_ab --store PATH --bodies FILE --baseline-ref REF
        [--blocks 24] [--block 50] [--rounds 4] [--seconds 10] [--connections 16] [--out JSON]

``bench_load --baseline-ref`` gives each version its own store and whole
rounds of a minute; on this shared VM a slow window of a minute or two
then lands on one version's rounds (in one such run "after" made 372 and
381 checks/s in its two back-to-back rounds and 935 in its third, "before"
765-916). Here REF (checked out into a temporary worktree) and this
checkout both run ``paradup serve --workers 2`` on the same store, side by
side on two ports, after the same warm-up:

* one connection (``http.client``): ``--blocks`` blocks of ``--block``
  sequential checks, the versions taking turns block by block (the one
  going first flipping each block), over the same articles;
* wrk: ``--rounds`` rounds of ``--seconds`` per version, in alternating
  order, with the workers' CPU seconds per answered check (/proc), which
  the machine's speed moves less than checks/s.

The store must be one both versions read (the same format). The JSON
holds every block and round, each version's pooled percentiles and the
median (and range) of the per-round and per-block ratios after / before.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import machine_info
from benchmarks.load.ab import AFTER, BEFORE, median, ratio, round_order, summarise
from benchmarks.load.bench_load_ab import checkout
from benchmarks.load.clients import sequential
from benchmarks.load.tools import ROOT, Server, cpu_seconds, paradup_server, summary_ms, wrk


def paired(values: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Medians of each version's values and of the ratios after / before,
    pair by pair (the i-th value of each version was taken in one turn)."""
    ratios = [ratio(a, b) for a, b in zip(values[AFTER], values[BEFORE], strict=True)]
    return {
        BEFORE: median(values[BEFORE]),
        AFTER: median(values[AFTER]),
        "ratio": median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "pairs": float(len(ratios)),
    }


def one_connection(
    servers: dict[str, Server], bodies: list[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    pooled: dict[str, list[float]] = {BEFORE: [], AFTER: []}
    block_p50: dict[str, list[float]] = {BEFORE: [], AFTER: []}
    for block, label in round_order(args.blocks):  # the version going first flips each block
        offset = block * args.block % len(bodies)
        latencies, errors = sequential(servers[label].url, [*bodies[offset:], *bodies[:offset]], args.block)
        if errors:
            raise SystemExit(f"{label}: {errors} checks of block {block} were not answered 200")
        pooled[label] += latencies
        block_p50[label].append(median(latencies))
    return {
        "pooled": {label: summary_ms(values) for label, values in pooled.items()},
        "block_p50_ms": {**paired(block_p50), "blocks": block_p50},
    }


def load_rounds(
    servers: dict[str, Server], bodies: Path, args: argparse.Namespace, work: Path
) -> list[dict[str, Any]]:
    rounds = []
    for number, label in round_order(args.rounds):
        pids = servers[label].pids()
        workers = pids[1:] or pids
        spent = sum(cpu_seconds(pid) for pid in workers)
        load = wrk(servers[label].url, bodies, args.seconds, args.connections, 1, work)
        spent = sum(cpu_seconds(pid) for pid in workers) - spent
        rounds.append(
            {
                "round": number,
                "label": label,
                "checks_per_s": load["rps"],
                "load_p99_ms": load["p99_ms"],
                "load_errors": load["errors"],
                "server_cpu_ms_per_check": round(1000 * spent / max(1, load["requests"]), 3),
            }
        )
        print(f"round {number} {label}: {rounds[-1]}", file=sys.stderr)
    return rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a SQLite store both versions read")
    parser.add_argument("--bodies", type=Path, required=True, help='one JSON {"text": ...} per line')
    parser.add_argument("--baseline-ref", required=True, metavar="GITREF", help="the before version")
    parser.add_argument("--blocks", type=int, default=24)
    parser.add_argument("--block", type=int, default=50, help="one-connection checks per block")
    parser.add_argument("--warmup", type=int, default=300, help="untimed checks per version first")
    parser.add_argument("--rounds", type=int, default=4, help="wrk rounds per version")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "interleaved_ab.json")
    args = parser.parse_args()
    lines = [line.encode() for line in args.bodies.read_text(encoding="utf-8").splitlines()]
    report: dict[str, Any] = {
        "machine": {
            **machine_info(["numpy", "numba", "uvicorn", "fastapi"]),
            "command": " ".join([".venv/bin/python -m benchmarks.load.interleaved_ab", *sys.argv[1:]]),
        },
        "store": str(args.store),
        "versions": {BEFORE: args.baseline_ref, AFTER: "this checkout"},
    }
    with (
        tempfile.TemporaryDirectory(prefix="paradup-interleaved-") as tmp,
        checkout(args.baseline_ref, Path(tmp)) as src,
    ):
        work = Path(tmp)
        roots = {BEFORE: src, AFTER: None}
        servers = {
            label: paradup_server(args.store, 2, work / f"{label}.log", roots[label]) for label in roots
        }
        try:
            for server in servers.values():
                server.start().wait_first("/check", lines[0])
            for server in servers.values():
                sequential(server.url, lines, args.warmup)
            report["one_connection"] = one_connection(servers, lines, args)
            report["rounds"] = load_rounds(servers, args.bodies, args, work)
        finally:
            for server in servers.values():
                server.stop()
    report["summary"] = summarise(report["rounds"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(
        json.dumps(
            {"one_connection": report["one_connection"]["pooled"], "summary": report["summary"]}, indent=1
        )
    )
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
