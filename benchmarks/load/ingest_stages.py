"""Where bulk ingest's CPU goes, stage by stage, in microseconds per paragraph.

    .venv/bin/python benchmarks/load/ingest_stages.py ARCHIVE.jsonl [--documents 2000]

ARCHIVE is a JSON-lines file of ``{id, text}`` (``bench_load --cache DIR``
keeps one per size; ``scale_corpus.write_inputs`` writes one). The stages are
those ``paradup ingest`` runs, called one by one on batches of
``--documents`` documents into a new SQLite store in a temporary directory:
parsing the lines, splitting (sanitising included), the analysis kernel
(normalised text, exact shingle sets), MinHash signatures and band keys,
passage fingerprints (the rest of ``Fingerprinter.index_keys``), the stored
form (digest, objects) and the store's write. Thread CPU time, so that the
other jobs on shared cores weigh less than on wall time; the store's write
is also given in wall time (it waits on the disk).

It uses only what every version since bulk ingest has (``Service`` and its
fingerprinter), so the same file measures another checkout:
``PYTHONPATH=OTHER_TREE python benchmarks/load/ingest_stages.py ARCHIVE``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from app.engine import DocumentInput, Service
from app.engine.records import documents_from_lines
from app.engine.service import _document
from app.settings import Settings


def measure(archive: Path, batch: int) -> tuple[dict[str, float], int]:
    spent: dict[str, float] = {}

    def timed(stage: str, start: float) -> None:
        spent[stage] = spent.get(stage, 0.0) + time.thread_time() - start

    with tempfile.TemporaryDirectory(prefix="paradup-stages-") as tmp:
        service = Service.open(Settings(store=f"sqlite:///{tmp}/stages.db"))
        fp = service.fingerprinter
        lines = archive.read_text(encoding="utf-8").splitlines()
        start = time.thread_time()
        docs = [DocumentInput(d.id, d.text, d.format, d.metadata) for _, d in documents_from_lines(lines)]
        timed("parse lines", start)
        paragraphs = 0
        for first in range(0, len(docs), batch):
            part = docs[first : first + batch]
            start = time.thread_time()
            texts = [[p.text for p in service._split(d.text, d.format, d.id)] for d in part]
            timed("split", start)
            flat = [t for each in texts for t in each]
            paragraphs += len(flat)
            start = time.thread_time()
            analysis = fp.analyse(flat)
            timed("analyse (kernel)", start)
            start = time.thread_time()
            fp.keys_for(analysis)
            timed("signatures + band keys", start)
            start = time.thread_time()
            keys = iter(fp.index_keys(flat, analysis))
            timed("index keys (all)", start)
            start = time.thread_time()
            prepared = [
                _document(d, each, [next(keys) for _ in each]) for d, each in zip(part, texts, strict=True)
            ]
            timed("stored form (digest)", start)
            start, wall = time.thread_time(), time.perf_counter()
            service.store.put(prepared)
            timed("store write", start)
            spent["store write, wall"] = spent.get("store write, wall", 0.0) + time.perf_counter() - wall
        service.close()
    # index_keys recomputes the band keys: its own part is the fingerprints.
    spent["passage fingerprints"] = spent.pop("index keys (all)") - spent["signatures + band keys"]
    return spent, paragraphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("--documents", type=int, default=2000, help="documents per batch")
    args = parser.parse_args()
    spent, paragraphs = measure(args.archive, args.documents)
    per = {stage: round(seconds / paragraphs * 1e6, 2) for stage, seconds in spent.items()}
    preparing = sum(v for k, v in per.items() if not k.startswith("store"))
    print(json.dumps({"paragraphs": paragraphs, "us_per_paragraph": per, "preparing": round(preparing, 2)}))


if __name__ == "__main__":
    main()
