"""Documents as flat arrays: a bulk load's transaction as its preparing
process sends it, written by ``SqliteStore.put_packed`` without a Python
object per paragraph (``documents`` rebuilds them for other backends)."""

from __future__ import annotations

import json
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from app.store.base import Keys, NewDocument, NewParagraph, WriteStatus

I64 = npt.NDArray[np.int64]


class PackedDocuments(NamedTuple):
    """Documents in input order; ``texts``, ``sizes`` and ``keys`` list every
    paragraph of every document, one after the other."""

    ids: list[str]
    metadata: list[str]  # compact JSON, as the stores keep it
    digests: list[str]
    counts: I64  # paragraphs of each document
    texts: list[str]
    sizes: I64  # keys of each paragraph
    keys: Keys

    def slice(self, lo: int, hi: int) -> PackedDocuments:
        """Documents ``lo`` to ``hi``."""
        if lo == 0 and hi == len(self.ids):
            return self
        ends = np.cumsum(self.counts)
        p_lo = int(ends[lo - 1]) if lo else 0
        p_hi = int(ends[hi - 1]) if hi else 0
        key_ends = np.cumsum(self.sizes)
        k_lo = int(key_ends[p_lo - 1]) if p_lo else 0
        k_hi = int(key_ends[p_hi - 1]) if p_hi else 0
        return PackedDocuments(
            self.ids[lo:hi],
            self.metadata[lo:hi],
            self.digests[lo:hi],
            self.counts[lo:hi],
            self.texts[p_lo:p_hi],
            self.sizes[p_lo:p_hi],
            self.keys[k_lo:k_hi],
        )

    @staticmethod
    def join(parts: list[PackedDocuments]) -> PackedDocuments:
        if len(parts) == 1:
            return parts[0]
        return PackedDocuments(
            [i for p in parts for i in p.ids],
            [m for p in parts for m in p.metadata],
            [d for p in parts for d in p.digests],
            np.concatenate([p.counts for p in parts]) if parts else np.empty(0, dtype=np.int64),
            [t for p in parts for t in p.texts],
            np.concatenate([p.sizes for p in parts]) if parts else np.empty(0, dtype=np.int64),
            np.concatenate([p.keys for p in parts]) if parts else np.empty(0, dtype=np.int64),
        )

    def documents(self) -> list[NewDocument]:
        """The same documents as the stores' ``put`` takes them."""
        key_ends = np.cumsum(self.sizes).tolist()
        paragraphs = [
            NewParagraph(text, self.keys[end - size : end])
            for text, size, end in zip(self.texts, self.sizes.tolist(), key_ends, strict=True)
        ]
        out = []
        at = 0
        for doc_id, metadata, digest, count in zip(
            self.ids, self.metadata, self.digests, self.counts.tolist(), strict=True
        ):
            out.append(NewDocument(doc_id, json.loads(metadata), digest, paragraphs[at : at + count]))
            at += count
        return out


@runtime_checkable
class PackedWrites(Protocol):
    """A store that writes a packed batch without unpacking it (SQLite);
    any other store is given ``PackedDocuments.documents()``."""

    def put_packed(self, batch: PackedDocuments) -> list[WriteStatus]: ...


def metadata_json(metadata: object) -> str:
    """Metadata as the stores serialise it."""
    return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
