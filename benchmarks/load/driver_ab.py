"""The store on the system's SQLite against pysqlite3's, same code, same store, alternating.

    .venv/bin/python -m benchmarks.load.driver_ab --store PATH --bodies FILE
        [--mode inproc|http] [--rounds 3] [--checks 600]

Each leg is a child process (``inproc``: ``check_stages --child``, thread CPU
per check and of the store's two calls; ``http``: ``paradup serve --workers 2``
and one connection's sequential ``/check``, client-side p50 / p99). The
"system" leg hides pysqlite3 behind a package of that name on PYTHONPATH that
refuses to import, so app/store/sqlite_driver.py falls back to the standard
module; the other leg needs pysqlite3 importable (installed, or its directory
in ``--pysqlite3-path``). The one going first flips every round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.load.tools import Server, load_average, percentile

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"content-type": "application/json"}


def _hidden_pysqlite3(work: Path) -> Path:
    package = work / "hide" / "pysqlite3"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('raise ImportError("hidden: this leg runs on the system SQLite")\n')
    return package.parent


def _http_leg(store: Path, lines: list[bytes], checks: int, path: str, log: Path) -> dict[str, float]:
    command = [sys.executable, "-m", "app.cli", "serve", "--store", str(store), "--workers", "2"]
    env = {"PYTHONPATH": path, "PARADUP_LOG_LEVEL": "warning"}
    server = Server([*command, "--log-level", "warning"], log, env, cwd=ROOT).start()
    try:
        first = server.wait_first("/check", lines[0])
        times = []
        with httpx.Client(timeout=30) as client:
            for body in lines[:50]:  # warm-up: both workers' caches and kernels
                client.post(server.url + "/check", content=body, headers=HEADERS)
            for n in range(checks):
                began = time.perf_counter()
                answer = client.post(server.url + "/check", content=lines[n % len(lines)], headers=HEADERS)
                times.append(1000 * (time.perf_counter() - began))
                answer.raise_for_status()
    finally:
        server.stop()
    return {"startup_s": first, "p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99)}


def _inproc_leg(store: Path, bodies: Path, path: str) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.load.check_stages",
        "--child",
        "--store",
        f"sqlite:///{store}",
    ]
    command += ["--bodies", str(bodies), "--passes", "2"]
    env = {**os.environ, "PYTHONPATH": path, "PARADUP_LOG_LEVEL": "warning"}
    out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    stages = json.loads(out.strip().splitlines()[-1])
    return {k: stages[f"store.{k}"] for k in ("paragraphs", "lookup")} | {"total": stages["total"]}


def _version(path: str) -> str:
    probe = "from app.store.sqlite_driver import sqlite3; print(sqlite3.sqlite_version)"
    env = {**os.environ, "PYTHONPATH": path}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True).stdout
    return out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--bodies", type=Path, required=True, help='one JSON {"text"} a line')
    parser.add_argument("--mode", choices=("inproc", "http"), default="inproc")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checks", type=int, default=600, help="sequential checks per http leg")
    parser.add_argument("--pysqlite3-path", default="", help="a directory holding pysqlite3")
    args = parser.parse_args()
    lines = args.bodies.read_bytes().splitlines()
    runs: dict[str, list[dict[str, Any]]] = {"system": [], "pysqlite3": []}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {
            "system": f"{_hidden_pysqlite3(Path(tmp))}:{ROOT}",
            "pysqlite3": ":".join(p for p in (str(ROOT), args.pysqlite3_path) if p),
        }
        for n in range(args.rounds):
            for name in list(runs)[:: 1 if n % 2 == 0 else -1]:
                row: dict[str, Any] = {"sqlite": _version(paths[name]), "load": load_average()}
                if args.mode == "http":
                    row |= _http_leg(args.store, lines, args.checks, paths[name], Path(tmp) / f"{name}.log")
                else:
                    row |= _inproc_leg(args.store, args.bodies, paths[name])
                runs[name].append(row)
                print(f"round {n + 1} {name}: {json.dumps(row)}", flush=True)
    print("\nmedian over rounds (system -> pysqlite3, ratio)")
    for key in [k for k in runs["system"][0] if k not in ("sqlite", "load")]:
        before, after = (statistics.median(r[key] for r in runs[name]) for name in runs)
        print(f"  {key:12} {before:8.3f} -> {after:8.3f}  x{after / before:.2f}")


if __name__ == "__main__":
    main()
