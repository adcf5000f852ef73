"""Redis memory per paragraph with and without passage postings.

    .venv/bin/python -m benchmarks.redis.passage_memory [--docs 700]

Ingests the same documents (en-bbc, fr and ar of ../shared/corpora, read at
run time) into two namespaces of one fresh loopback redis-server, one with
``PARADUP_PASSAGES=false`` and one with the defaults, and prints Redis's
``used_memory`` growth per paragraph, in total and beyond the UTF-8 text.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import redis

from app.engine import Service
from app.engine.service import DocumentInput
from app.settings import Settings
from benchmarks.load.passage_cost import CORPORA
from benchmarks.quality.corpus import load
from tests.redis_servers import MISSING, RedisServer, have_redis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    parser.add_argument("--docs", type=int, default=700, help="documents per corpus")
    args = parser.parse_args()
    if not have_redis():
        raise SystemExit(MISSING)
    if not args.corpora.is_dir():
        raise SystemExit(f"corpora not found at {args.corpora}: pass --corpora")
    rng = random.Random(13)
    docs = [d for name in ("en-bbc", "fr", "ar") for d in load(args.corpora, name, args.docs, rng)]
    text_bytes = sum(len("\n".join(d.paragraphs).encode()) for d in docs)
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            client = redis.Redis.from_url(server.url)
            for passages in (False, True):
                before = int(client.info("memory")["used_memory"])
                url = f"{server.url}?namespace=memory-{int(passages)}&create=1"
                service = Service.open(Settings(store=url, passages=passages))
                count = 0
                for n in range(0, len(docs), 200):
                    batch = [DocumentInput(d.id, "\n\n".join(d.paragraphs)) for d in docs[n : n + 200]]
                    count += sum(r.paragraphs for r in service.ingest(batch))
                service.close()
                used = int(client.info("memory")["used_memory"]) - before
                print(
                    f"passages={str(passages).lower()}: {count} paragraphs, {used / count:.0f} bytes "
                    f"per paragraph, {(used - text_bytes) / count:.0f} beyond the text"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
