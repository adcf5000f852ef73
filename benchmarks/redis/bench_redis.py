"""Redis backend: ingest rate, HTTP check rate and memory, standalone and on
a Redis Cluster, beside datasketch's Redis LSH.

    python -m benchmarks.redis.bench_redis [--paragraphs 100000] [--seconds 20]
        [--cluster-masters 3] [--out results.json]

Everything runs on this machine, in this run, against fresh loopback
redis-server processes: paradup ingests real paragraphs through the service
in process (one thread) and over HTTP (``POST /ingest`` batches from two
clients to ``paradup serve --workers 2``, into a second namespace), the
same service answers ``/check`` under wrk, and datasketch's
``MinHashLSH`` with Redis storage indexes the same paragraphs (from the same
MinHash signatures, so its timings exclude hashing). The paradup figures are
taken twice, on one redis-server and on a cluster of ``--cluster-masters``
masters (no replicas) started by the benchmark, with the share of the
index's keys and memory on each master, the commands each master serves per
``/check``, and the ratios cluster / standalone. All the servers share this
machine's cores: the ratios say what the cluster costs, not how it scales.
Corpus text stays in memory; only numbers are printed. Skips with a message
when the corpora, redis-server or wrk are missing.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import redis

from app.engine import DocumentInput, Service
from app.settings import Settings
from app.text import split
from benchmarks.common import DEFAULT_CORPORA, machine_info, read_jsonl
from benchmarks.redis.rounds import alternate, cluster_ratios, paired, summary
from benchmarks.redis.serving import bench_http_ingest, serving
from benchmarks.redis.targets import targets
from benchmarks.redis.topology import Topology, calls_per_check
from tests.redis_servers import RedisCluster, RedisServer, have_redis, start_server

ARCHIVE_FILES = ["en_reuters21578.jsonl", "en_bbc_news.jsonl", "fr_gilets_jaunes_press.jsonl"]
# Articles checked under load: half their paragraphs come from the archive,
# half from a corpus that was not ingested.
FRESH_FILE = "ar_saudinewsnet.jsonl"
BATCH = 1000  # documents per ingest call, the API's default limit


def documents(corpora: Path, paragraphs: int) -> list[DocumentInput]:
    out: list[DocumentInput] = []
    total = 0
    for name in ARCHIVE_FILES:
        for record in read_jsonl(corpora / name):
            text = str(record.get("text", ""))
            if not text.strip():
                continue
            out.append(DocumentInput(f"{name}:{record.get('id', len(out))}", text))
            total += text.count("\n\n") + 1
            if total >= paragraphs:
                return out
    return out


def articles(corpora: Path, archive: list[DocumentInput], count: int) -> list[str]:
    rng = random.Random(7)
    known = [p for d in rng.sample(archive, min(len(archive), 2000)) for p in d.text.split("\n\n")]
    fresh = [p for doc in read_jsonl(corpora / FRESH_FILE) for p in str(doc.get("text", "")).split("\n\n")][
        :5000
    ]
    return ["\n\n".join(rng.sample(known, 5) + rng.sample(fresh, 5)) for _ in range(count)]


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def bench_ingest(where: Topology, docs: list[DocumentInput]) -> dict[str, Any]:
    url = where.store_url("bench")
    service = Service.open(Settings(store=url))
    before = where.used_memory()
    start = time.perf_counter()
    for i in range(0, len(docs), BATCH):
        service.ingest(docs[i : i + BATCH])
    seconds = time.perf_counter() - start
    stats = service.stats()
    bands = service.fingerprinter.bands
    service.close()
    text_bytes = sum(len(p.encode()) for d in docs for p in service_paragraphs(d))
    memory = where.used_memory() - before
    return {
        "topology": where.name,
        "documents": stats.documents,
        "paragraphs": stats.paragraphs,
        "seconds": round(seconds, 2),
        "paragraphs_per_s": round(stats.paragraphs / seconds),
        "redis_bytes": memory,
        "text_bytes": text_bytes,
        "bytes_per_paragraph_beyond_text": round((memory - text_bytes) / stats.paragraphs, 1),
        "bytes_per_paragraph_total": round(memory / stats.paragraphs, 1),
        "bands_x_rows": f"{bands.bands}x{bands.rows}",
        "store_url": url,
        "spread": where.shares("bench"),
    }


def service_paragraphs(doc: DocumentInput) -> Iterator[str]:
    return (p.text for p in split(doc.text, doc.format))


WRK_SCRIPT = """
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  return wrk.format(nil, "/check", nil, bodies[(n % #bodies) + 1])
end
"""


def parse_wrk(output: str) -> dict[str, Any]:
    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
        return round(float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "checks_per_s": float(rate.group(1)) if rate else None,
        "latency_ms": {f"p{k}": ms(v) for k, v in latency.items()},
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def bench_http(url: str, bodies: list[str], seconds: int, workdir: Path) -> dict[str, Any]:
    if not shutil.which("wrk"):
        return {"skipped": "wrk is not installed"}
    with serving(url, workdir) as base:
        body_file = workdir / "bodies.jsonl"
        body_file.write_text("".join(json.dumps({"text": b}) + "\n" for b in bodies), encoding="utf-8")
        script = workdir / "check.lua"
        script.write_text(WRK_SCRIPT)
        sample = httpx.post(base + "/check", json={"text": bodies[0]}, timeout=30).json()
        # Warm both workers (numba kernels, connection pools) before timing.
        subprocess.run(["wrk", "-t2", "-c8", "-d3s", "-s", str(script), base], env={"BODIES": str(body_file)},
                       capture_output=True, check=True)  # fmt: skip
        run = subprocess.run(
            ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", str(script), base],
            env={"BODIES": str(body_file)},
            capture_output=True,
            text=True,
            check=True,
        )
    result = parse_wrk(run.stdout)
    result.update(
        {
            "command": f"wrk -t2 -c8 -d{seconds}s --latency -s check.lua",
            "workers": 2,
            "paragraphs_per_article": len(sample["paragraphs"]),
            "articles": len(bodies),
        }
    )
    return result


def bench_single_queries(where: Topology, url: str, texts: list[str], bodies: list[str]) -> dict[str, Any]:
    """In-process, one paragraph per call: the shape of datasketch's query;
    then what one /check of an article costs each master."""
    service = Service.open(Settings(store=url))
    keys = [service.fingerprinter.band_keys([t])[0] for t in texts]
    start = time.perf_counter()
    for k in keys:
        service.store.lookup(k)
    lookup = len(keys) / (time.perf_counter() - start)
    start = time.perf_counter()
    for t in texts:
        service.check(t)
    check = len(texts) / (time.perf_counter() - start)
    # The store's own count of round trips, when it keeps one (named so).
    counted = store_counters(service)
    before = where.calls()
    for body in bodies:
        service.check(body)
    per_check = calls_per_check(before, where.calls(), len(bodies))
    counters = per_call(counted, store_counters(service), len(bodies))
    service.close()
    return {
        "lookup_per_s": round(lookup),
        "check_per_s": round(check),
        "script_calls_per_article_check_per_master": per_check,
        "store_round_trips_per_article_check": counters,
    }


def store_counters(service: Service) -> dict[str, Any]:
    return {k: v for k, v in service.stats().extra.items() if "round" in k or "trip" in k}


def per_call(before: Any, after: Any, calls: int) -> Any:
    """(after - before) / calls through nested dicts of counters."""
    if isinstance(after, dict):
        return {
            k: per_call(before.get(k, 0) if isinstance(before, dict) else 0, v, calls)
            for k, v in after.items()
        }
    if isinstance(after, int | float) and isinstance(before, int | float):
        return round((after - before) / calls, 2)
    return after


def bench_paradup(
    where: Topology, docs: list[DocumentInput], bodies: list[str], workdir: Path
) -> dict[str, Any]:
    """Ingest in process and over HTTP, then the in-process figures (wrk's
    come in rounds, see main)."""
    out: dict[str, Any] = {"ingest": bench_ingest(where, docs)}
    out["http_ingest"] = bench_http_ingest(where.store_url("httpingest"), docs, workdir)
    probes = [p for b in bodies for p in b.split("\n\n")][:500]
    out["single_paragraph"] = bench_single_queries(where, out["ingest"]["store_url"], probes, bodies)
    return out


def bench_datasketch(server: RedisServer, texts: list[str], queries: list[str]) -> dict[str, Any]:
    from datasketch import LeanMinHash, MinHashLSH

    from app.hashing import MinHasher

    hasher = MinHasher(num_perm=128)
    # The same affine32 signatures datasketch would compute, made once so
    # that only its index is timed.
    signatures = hasher.signatures(texts)
    minhashes = [LeanMinHash(seed=hasher.seed, hashvalues=s, scheme="affine32") for s in signatures]
    client = server.client()
    config = {"type": "redis", "redis": {"host": "127.0.0.1", "port": server.port}}
    before = used_memory(client)
    lsh = MinHashLSH(threshold=0.5, num_perm=128, storage_config={**config, "basename": b"session"})
    start = time.perf_counter()
    with lsh.insertion_session(buffer_size=50000) as session:
        for i, m in enumerate(minhashes):
            session.insert(f"p{i}", m, check_duplication=False)
    session_rate = len(minhashes) / (time.perf_counter() - start)
    memory = used_memory(client) - before
    plain = MinHashLSH(threshold=0.5, num_perm=128, storage_config={**config, "basename": b"plain"})
    few = minhashes[:2000]
    start = time.perf_counter()
    for i, m in enumerate(few):
        plain.insert(f"p{i}", m, check_duplication=False)
    insert_rate = len(few) / (time.perf_counter() - start)
    probes = [
        LeanMinHash(seed=hasher.seed, hashvalues=s, scheme="affine32") for s in hasher.signatures(queries)
    ]
    start = time.perf_counter()
    for m in probes:
        lsh.query(m)
    query_rate = len(probes) / (time.perf_counter() - start)
    return {
        "paragraphs": len(texts),
        "insert_per_s": round(insert_rate),
        "insertion_session_per_s": round(session_rate),
        "query_per_s": round(query_rate),
        "redis_bytes": memory,
        "bytes_per_paragraph": round(memory / len(texts), 1),
        "bands_x_rows": f"{lsh.b}x{lsh.r}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--paragraphs", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=20, help="wrk duration")
    parser.add_argument(
        "--datasketch-paragraphs",
        type=int,
        default=20_000,
        help="datasketch indexes this many of the paragraphs (its memory per paragraph is linear)",
    )
    parser.add_argument(
        "--cluster-masters", type=int, default=3, help="masters of the cluster run (0: standalone only)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="wrk rounds per store, standalone and cluster taking turns"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    missing = [f for f in [*ARCHIVE_FILES, FRESH_FILE] if not (args.corpora / f).is_file()]
    skip = f"corpora missing in {args.corpora}: {missing}" if missing else None
    skip = skip or (None if have_redis() else "redis-server is not installed (make system-deps)")
    if skip:
        print(json.dumps({"skipped": skip}))
        return 0
    docs = documents(args.corpora, args.paragraphs)
    bodies = articles(args.corpora, docs, 50)
    workdir = Path(tempfile.mkdtemp(prefix="paradup-bench-"))
    for sub in ("paradup", "datasketch", "cluster"):
        (workdir / sub).mkdir()
    ours = start_server(workdir / "paradup")
    theirs = start_server(workdir / "datasketch")
    cluster = (
        RedisCluster(workdir / "cluster", masters=args.cluster_masters) if args.cluster_masters else None
    )
    try:
        result: dict[str, Any] = {
            "benchmark": "redis",
            "command": " ".join(["python -m benchmarks.redis.bench_redis", *(argv or sys.argv[1:])]),
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "machine": machine_info(["redis", "datasketch", "numpy", "numba"]),
            "redis_server": redis.Redis(port=ours.port).info("server")["redis_version"],
            "paragraphs_asked": args.paragraphs,
        }
        result.update(bench_paradup(Topology.standalone(ours), docs, bodies, workdir))
        urls = {"standalone": result["ingest"]["store_url"]}
        if cluster is not None:
            result["cluster"] = bench_paradup(Topology.cluster(cluster.start()), docs, bodies, workdir)
            urls["cluster"] = result["cluster"]["ingest"]["store_url"]
        runs = alternate(urls, args.rounds, lambda url: bench_http(url, bodies, args.seconds, workdir))
        result["http_check"] = summary(runs["standalone"])
        if cluster is not None:
            result["cluster"]["http_check"] = summary(runs["cluster"])
            paired_wrk = (
                paired(runs["standalone"], runs["cluster"]) if "skipped" not in runs["cluster"][0] else {}
            )
            result["cluster_over_standalone"] = cluster_ratios(result, result["cluster"], paired_wrk)
            cluster.stop()
        probes = [p for b in bodies for p in b.split("\n\n")][:500]
        texts = [p for d in docs for p in service_paragraphs(d)]
        result["datasketch"] = bench_datasketch(theirs, texts[: args.datasketch_paragraphs], probes)
        ds, ing, single = result["datasketch"], result["ingest"], result["single_paragraph"]
        result["ratios"] = {
            "ingest_vs_datasketch_insert": round(ing["paragraphs_per_s"] / ds["insert_per_s"], 2),
            "ingest_vs_datasketch_session": round(ing["paragraphs_per_s"] / ds["insertion_session_per_s"], 2),
            "lookup_vs_datasketch_query": round(single["lookup_per_s"] / ds["query_per_s"], 2),
            "check_vs_datasketch_query": round(single["check_per_s"] / ds["query_per_s"], 2),
            "memory_datasketch_over_paradup": round(
                ds["bytes_per_paragraph"] / ing["bytes_per_paragraph_total"], 2
            ),
        }
        result["targets"] = targets(result)
    finally:
        ours.stop()
        theirs.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    for t in result["targets"]:
        if "target" in t:
            print(
                f"{t['status'].upper():7} {t['target']}: {t['measured']} (goal {t['goal']})", file=sys.stderr
            )
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
