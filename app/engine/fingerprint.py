"""Binds the pure hashing core to the settings: one fingerprint scheme."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from app.hashing import Analysis, Bands, MinHasher, band_keys, band_params, tables_digest
from app.hashing.tokens import token_ids
from app.hashing.winnow import Winnowing, index_rows
from app.store.base import Keys

# Stores written before the scheme covered the NFKC table name the very same
# tables by the digest of the character table alone (xxh64 of its arrays):
# current digest -> that earlier name. Only tables byte-identical to those
# of that time are listed, so no store is accepted with other signatures.
EARLIER_TABLE_NAMES = {"9dbc5ded8678a63c": "5ad059a6e9fb67ff"}


@dataclass(frozen=True)
class Fingerprinter:
    hasher: MinHasher
    bands: Bands
    min_shingles: int
    # Passage postings: each indexed paragraph's keys are its band keys, then
    # the distinct winnowed fingerprints of its token k-grams. None: bands
    # only (a store created before passages existed; see docs/quality.md).
    passages: Winnowing | None = None

    @classmethod
    def create(
        cls,
        num_perm: int,
        shingle_size: int,
        lsh_threshold: float,
        min_shingles: int,
        passages: Winnowing | None = None,
    ) -> Fingerprinter:
        hasher = MinHasher(num_perm=num_perm, shingle_size=shingle_size)
        return cls(hasher, band_params(lsh_threshold, num_perm), min_shingles, passages)

    def without_postings(self) -> Fingerprinter:
        return Fingerprinter(self.hasher, self.bands, self.min_shingles)

    @property
    def scheme(self) -> str:
        """Everything that decides the stored band keys; a store built with
        another scheme cannot be queried with this one."""
        h = self.hasher
        return (
            f"minhash-affine32-xxh32 perm={h.num_perm} seed={h.seed} shingle={h.shingle_size} "
            f"bands={self.bands.bands}x{self.bands.rows} min_shingles={self.min_shingles} "
            f"tables={tables_digest()}"
            + (f" passages=winnow-k{self.passages.kgram}-w{self.passages.window}" if self.passages else "")
        )

    @property
    def earlier_scheme(self) -> str | None:
        """The same scheme as a store written before the tables digest
        covered the NFKC table records it (such stores have no postings)."""
        current = tables_digest()
        earlier = EARLIER_TABLE_NAMES.get(current)
        if earlier is None or self.passages is not None:
            return None
        return self.scheme.replace(f"tables={current}", f"tables={earlier}")

    def analyse(self, texts: Sequence[str]) -> Analysis:
        return self.hasher.analyse(texts)

    def indexable(self, analysis: Analysis) -> list[bool]:
        """Long enough to fingerprint: short paragraphs are never banded."""
        return [s.size >= self.min_shingles for s in analysis.shingles]

    def keys_for(self, analysis: Analysis) -> list[Keys]:
        """Band keys of each analysed text; empty for texts too short to index.
        Signed from the exact shingle sets the analysis already holds."""
        empty = np.empty(0, dtype=np.int64)
        indexable, rows = self._band_rows(analysis)
        keys = iter(rows)
        return [next(keys) if ok else empty for ok in indexable]

    def _band_rows(self, analysis: Analysis) -> tuple[list[bool], npt.NDArray[np.int64]]:
        """Which texts are indexable, and the band keys of those, one row each."""
        indexable = self.indexable(analysis)
        chosen = [s for s, ok in zip(analysis.shingles, indexable, strict=True) if ok]
        if not chosen:
            return indexable, np.empty((0, self.bands.bands), dtype=np.int64)
        return indexable, np.ascontiguousarray(band_keys(self.hasher.signatures_of_sets(chosen), self.bands))

    def index_keys(self, texts: Sequence[str], analysis: Analysis) -> list[Keys]:
        """What the store indexes per paragraph: band keys, then passage
        fingerprints (none for paragraphs too short to index)."""
        if self.passages is None:
            return self.keys_for(analysis)
        indexable, rows = self._band_rows(analysis)
        # One compiled call for every text (tokens, k-grams, winnowing,
        # distinct values, band keys in front): per text, the separate calls
        # and small arrays cost ~15 us of a paragraph's ~40 us of ingest.
        ids, bounds = token_ids([t for t, ok in zip(texts, indexable, strict=True) if ok])
        flat, starts = index_rows(rows, ids, bounds, self.passages.kgram, self.passages.window)
        cuts = pairwise(starts.tolist())
        empty = np.empty(0, dtype=np.int64)
        out = []
        for ok in indexable:
            if ok:
                a, b = next(cuts)
                out.append(flat[a:b])
            else:
                out.append(empty)
        return out

    def split_keys(self, keys: Keys) -> tuple[Keys, Keys]:
        """(band keys, passage fingerprints) of one paragraph's index keys."""
        return keys[: self.bands.bands], keys[self.bands.bands :]

    def band_keys(self, texts: Sequence[str]) -> list[Keys]:
        """The store's callback: keys of stored paragraph texts."""
        return self.index_keys(texts, self.analyse(texts))

    def warm_up(self) -> None:
        """Load the kernels the service runs: analysis (a decomposed accent
        takes its second pass), signatures of shingle sets, index keys. Not
        those signing raw texts (``MinHasher.signatures``, serial and
        parallel), which the service never calls: loading them took about a
        third of the warm-up in every server worker's start-up."""
        samples = ["warm up the band keys and fingerprints with a paragraph long enough to index"]
        self.band_keys([*samples, "ﬁnal cafe\u0301\u00a0déjà vu", "北京，上海。"])
