"""Start-up of ``paradup serve``, two versions in alternating rounds on one store.

"before" is REF checked out into a temporary detached worktree (as
bench_load_ab does), "after" this checkout. A round of a version starts
``paradup serve --workers N`` on the store and measures, with bench_load's
own tools: the wall seconds from spawn to the first answered ``/check`` (a
10-paragraph article of the bodies file) and the CPU seconds the master and
each worker had used by then. Versions alternate, the first flipping every
round (ab.round_order); the summary is each version's median and the median
of the per-round ratios after / before.

    python -m benchmarks.load.startup_ab --store DB --bodies bodies.jsonl --rounds 7

With ``--service-venv DIR`` the two sides are one version: "before" is this
checkout run by this interpreter (the development environment, with the
test and benchmark extras, whose bytecode this machine's shells may not
write), "after" the same checkout installed with ``pip install .`` into the
virtual environment DIR (made when missing, the package reinstalled every
run), as ``make serve`` and the Dockerfile install the service.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.load.ab import AFTER, BEFORE, median, ratio, round_order
from benchmarks.load.bench_load_ab import checkout, describe
from benchmarks.load.tools import ROOT, cpu_seconds, load_average, paradup_server, service_python


def one_start(
    store: Path, workers: int, root: Path | None, first: bytes, log: Path, python: Path | None = None
) -> dict[str, Any]:
    server = paradup_server(store, workers, log, root, python).start()
    try:
        wall = server.wait_first("/check", first)
        cpu = [cpu_seconds(pid) for pid in server.pids()]
    finally:
        server.stop()
    return {
        "startup_s": round(wall, 3),
        "master_cpu_s": round(cpu[0], 3),
        "worker_cpu_s": [round(c, 3) for c in cpu[1:]],
        "total_cpu_s": round(sum(cpu), 3),
    }


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    by_round: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rounds:
        by_round.setdefault(r["round"], {})[r["label"]] = r
    pairs = [p for p in by_round.values() if BEFORE in p and AFTER in p]
    out: dict[str, Any] = {}
    for metric in ("startup_s", "master_cpu_s", "total_cpu_s", "max_worker_cpu_s"):
        before = [p[BEFORE][metric] for p in pairs]
        after = [p[AFTER][metric] for p in pairs]
        ratios = sorted(ratio(a, b) for a, b in zip(after, before, strict=True))
        out[metric] = {
            BEFORE: round(median(before), 3),
            AFTER: round(median(after), 3),
            "ratio": round(median(ratios), 3),
            "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="an existing store (both versions open it)")
    parser.add_argument("--bodies", type=Path, required=True, help="check articles, one JSON body a line")
    parser.add_argument("--baseline-ref", default="main", metavar="GITREF")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "startup_ab.json")
    parser.add_argument(
        "--service-venv",
        type=Path,
        metavar="DIR",
        help="compare this checkout here (before) with it installed in DIR (after)",
    )
    args = parser.parse_args()
    report: dict[str, Any] = {"command": " ".join(sys.argv), "rounds": []}
    with tempfile.TemporaryDirectory(prefix="paradup-startup-") as tmp, ExitStack() as stack:
        if args.service_venv:
            sides = {BEFORE: Side(), AFTER: Side(python=service_python(args.service_venv))}
            report["versions"] = {
                BEFORE: f"{describe(BEFORE, 'HEAD', ROOT).commit} in {sys.executable}",
                AFTER: f"the same, installed in {sides[AFTER].python}",
            }
        else:
            src = stack.enter_context(checkout(args.baseline_ref, Path(tmp)))
            sides = {BEFORE: Side(root=src), AFTER: Side()}
            report["versions"] = {
                BEFORE: describe(BEFORE, args.baseline_ref, src).commit,
                AFTER: describe(AFTER, "HEAD", ROOT).commit,
            }
        report["rounds"] = rounds(args, sides, Path(tmp))
    report["summary"] = summary(report["rounds"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["summary"], indent=2))
    return 0


@dataclass(frozen=True)
class Side:
    """Where one side's code comes from: a checkout (``root``) run by this
    interpreter, or an environment it is installed in (``python``)."""

    root: Path | None = None
    python: Path | None = None


def rounds(args: argparse.Namespace, sides: dict[str, Side], tmp: Path) -> list[dict[str, Any]]:
    first = args.bodies.read_bytes().split(b"\n", 1)[0]

    def start(label: str, log: Path) -> dict[str, Any]:
        side = sides[label]
        return one_start(args.store, args.workers, side.root, first, log, side.python)

    for label in (BEFORE, AFTER):  # untimed: numba compiles and caches each copy's kernels
        start(label, tmp / "warm.log")
    out = []
    for number, label in round_order(args.rounds):
        result = start(label, tmp / f"{label}.log")
        result.update(round=number, label=label, load_average=load_average())
        result["max_worker_cpu_s"] = max(result["worker_cpu_s"], default=0.0)
        out.append(result)
        print(json.dumps(result), file=sys.stderr)
    return out


if __name__ == "__main__":
    sys.exit(main())
