"""Two checkouts of paradup on Redis, in alternating rounds of one run: ingest rate,
memory per paragraph and /check rate under wrk.

    python -m benchmarks.redis.ab_trees --baseline /work/main [--paragraphs 100000]
        [--rounds 3] [--seconds 5] [--store-options shards=1] [--cluster]

Each tree (this one, A, and ``--baseline``, B) gets its own loopback
redis-server (with ``--cluster``: its own 3-master Redis Cluster) and
``paradup serve --workers 2`` run with that tree on PYTHONPATH; the same
documents are ingested into both in alternating chunks, then wrk runs
against A, B, A, B ... Ratios A/B are per pair of rounds, so a machine
whose speed drifts (2 shared cores) still compares like with like.
Needs the corpora, redis-server and wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_CORPORA
from benchmarks.redis.bench_redis import WRK_SCRIPT, articles, documents, parse_wrk
from tests.live_server import free_port, stop_process
from tests.redis_servers import RedisCluster, RedisServer, poll, start_server

HERE = Path(__file__).resolve().parents[2]
INGEST = """
import json, sys, time
from app.engine import DocumentInput, Service
from app.settings import Settings
docs = [DocumentInput(d["id"], d["text"]) for d in map(json.loads, open(sys.argv[2]))]
service = Service.open(Settings(store=sys.argv[1]))
start = time.perf_counter()
for i in range(0, len(docs), 1000):
    service.ingest(docs[i : i + 1000])
print(json.dumps({"seconds": time.perf_counter() - start, "paragraphs": service.stats().paragraphs}))
service.close()
"""


def run_python(tree: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # From the tree itself: python puts the working directory first on sys.path.
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=tree, capture_output=True, text=True, check=True
    )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout (B)")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--paragraphs", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=4, help="ingest chunks, alternating A and B")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per round")
    parser.add_argument("--store-options", default="", help="extra store URL options for A (e.g. shards=1)")
    parser.add_argument("--cluster", action="store_true", help="a 3-master Redis Cluster for each tree")
    args = parser.parse_args(argv)
    docs = documents(args.corpora, args.paragraphs)
    bodies = articles(args.corpora, docs, 50)
    work = Path(tempfile.mkdtemp(prefix="paradup-ab-"))
    trees = {"A": HERE, "B": args.baseline.resolve()}
    servers = {side: _deployment(Path(tempfile.mkdtemp(dir=work)), args.cluster) for side in trees}
    urls = {side: f"{s.url}?namespace=ab" for side, s in servers.items()}
    extra = f"&{args.store_options}" if args.store_options else ""
    result: dict[str, Any] = {"trees": {s: str(t) for s, t in trees.items()}, "paragraphs": 0}
    result["ingest_seconds"] = {"A": 0.0, "B": 0.0}
    serving: list[subprocess.Popen[bytes]] = []
    try:
        size = -(-len(docs) // args.chunks)
        for n in range(args.chunks):
            chunk = work / f"chunk{n}.jsonl"
            chunk.write_text(
                "".join(
                    json.dumps({"id": d.id, "text": d.text}) + "\n" for d in docs[n * size : (n + 1) * size]
                )
            )
            for side, tree in trees.items():
                url = urls[side] + "&create=1" + (extra if side == "A" else "")
                out = json.loads(run_python(tree, "-c", INGEST, url, str(chunk)))
                result["ingest_seconds"][side] += out["seconds"]
                result["paragraphs"] = out["paragraphs"]
        paragraphs = result["paragraphs"]
        result["ingest_paragraphs_per_s"] = {
            s: round(paragraphs / t) for s, t in result["ingest_seconds"].items()
        }
        result["redis_bytes_per_paragraph"] = {
            side: round(_used_memory(s) / paragraphs, 1) for side, s in servers.items()
        }
        ports = {}
        for side, tree in trees.items():
            ports[side] = free_port()
            env = {
                **os.environ,
                "PYTHONPATH": str(tree),
                "PARADUP_STORE": urls[side],
                "PARADUP_LOG_LEVEL": "warning",
            }
            cmd = [sys.executable, "-m", "app.cli", "serve", "--port", str(ports[side]), "--workers", "2"]
            log = (work / f"serve-{side}.log").open("wb")
            serving.append(subprocess.Popen(cmd, env=env, cwd=tree, stdout=log, stderr=log))
        for side, port in ports.items():
            poll(f"paradup {side}", partial(_ready, port), deadline=120)
        (work / "bodies.txt").write_text("".join(json.dumps({"text": b}) + "\n" for b in bodies))
        (work / "check.lua").write_text(WRK_SCRIPT)
        rates: dict[str, list[float]] = {"A": [], "B": []}
        for n in range(args.rounds + 1):  # the first round warms both up and is not counted
            for side, port in ports.items():
                seconds = args.seconds if n else 3
                wrk = subprocess.run(
                    ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", "check.lua", f"http://127.0.0.1:{port}"],
                    cwd=work, env={**os.environ, "BODIES": str(work / "bodies.txt")},
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                if n:
                    rates[side].append(parse_wrk(wrk.stdout)["checks_per_s"])
        result["checks_per_s"] = rates
        result["checks_ratio_a_over_b"] = [
            round(a / b, 2) for a, b in zip(rates["A"], rates["B"], strict=True)
        ]
    except Exception:
        for side in trees:
            log_file = work / f"serve-{side}.log"
            if log_file.exists():
                print(f"--- serve {side}:", log_file.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        for process in serving:
            stop_process(process, 30)
        for server in servers.values():
            server.stop()
    print(json.dumps(result, indent=2))
    return 0


def _deployment(workdir: Path, cluster: bool) -> RedisServer | RedisCluster:
    return RedisCluster(workdir, 3).start() if cluster else start_server(workdir)


def _used_memory(deployment: RedisServer | RedisCluster) -> int:
    masters = deployment.masters() if isinstance(deployment, RedisCluster) else [deployment]
    total = 0
    for master in masters:
        with master.client() as client:
            total += int(client.info("memory")["used_memory"])
    return total


def _ready(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
