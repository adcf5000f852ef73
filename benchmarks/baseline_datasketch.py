"""The plain datasketch recipe, served with paradup's request and response shapes.

What a team would write in an afternoon: lower-cased whitespace words,
5-word shingles, ``MinHash(num_perm=128)``, ``MinHashLSH(threshold=0.8)``,
and every LSH candidate reported as a duplicate (no exact verification).
Paragraphs are split with paradup's own splitter so that the comparison
measures matching, not splitting. In memory: it forgets on restart.

    python -m benchmarks.baseline_datasketch --port 8100
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from datasketch import MinHash, MinHashLSH
from fastapi import FastAPI
from pydantic import BaseModel, Field

from app.text import Format, split

SHINGLE_WORDS = 5
NUM_PERM = 128
LSH_THRESHOLD = 0.8
SCHEME = "affine32"  # datasketch 2.x default


class DocumentIn(BaseModel):
    id: str
    text: str
    format: Format = "text"
    metadata: dict[str, Any] = Field(default_factory=dict)


class IngestIn(BaseModel):
    documents: list[DocumentIn]


class CheckIn(BaseModel):
    text: str
    format: Format = "text"


def shingles(text: str) -> set[bytes]:
    words = text.lower().split()
    if len(words) < SHINGLE_WORDS:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(len(words) - SHINGLE_WORDS + 1)}


class Baseline:
    def __init__(self) -> None:
        self.lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        self.paragraphs: dict[str, tuple[str, int]] = {}
        # Computed once: datasketch would otherwise redraw the permutations
        # for every MinHash it builds.
        self.perms = MinHash(num_perm=NUM_PERM, scheme=SCHEME).permutations

    def minhashes(self, texts: Iterable[str]) -> list[MinHash | None]:
        out: list[MinHash | None] = []
        for text in texts:
            grams = shingles(text)
            if not grams:
                out.append(None)
                continue
            m = MinHash(num_perm=NUM_PERM, permutations=self.perms, scheme=SCHEME)
            m.update_batch(list(grams))
            out.append(m)
        return out

    def ingest(self, docs: list[DocumentIn]) -> int:
        count = 0
        for doc in docs:
            paragraphs = split(doc.text, doc.format)
            for p, m in zip(paragraphs, self.minhashes(x.text for x in paragraphs), strict=True):
                key = f"{doc.id}\x1f{p.index}"
                if m is None or key in self.paragraphs:
                    continue
                self.lsh.insert(key, m, check_duplication=False)
                self.paragraphs[key] = (doc.id, p.index)
                count += 1
        return count

    def check(self, text: str, fmt: Format) -> dict[str, Any]:
        paragraphs = split(text, fmt)
        article = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        out = []
        for p, m in zip(paragraphs, self.minhashes(x.text for x in paragraphs), strict=True):
            matches: list[dict[str, Any]] = []
            if m is not None:
                for key in article.query(m):
                    matches.append({"source": "article", "document_id": None, "paragraph_index": key})
                for key in self.lsh.query(m):
                    doc_id, index = self.paragraphs[key]
                    matches.append({"source": "archive", "document_id": doc_id, "paragraph_index": index})
                article.insert(p.index, m, check_duplication=False)
            status = "duplicate" if matches else "unique"
            out.append({"index": p.index, "text": p.text, "status": status, "matches": matches})
        return {"duplicate": any(p["status"] == "duplicate" for p in out), "paragraphs": out}


def create_app() -> FastAPI:
    app = FastAPI(title="datasketch baseline")
    state = Baseline()

    @app.get("/ready")
    def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/ingest")
    def ingest(body: IngestIn) -> dict[str, int]:
        return {"paragraphs": state.ingest(body.documents)}

    @app.post("/check")
    def check(body: CheckIn) -> dict[str, Any]:
        return state.check(body.text, body.format)

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
