"""Binds the pure hashing core to the settings: one fingerprint scheme."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from app.hashing import Analysis, Bands, MinHasher, band_keys, band_params, tables_digest
from app.hashing.similarity import intersection_size
from app.hashing.tokens import Tokens, token_ids, tokenise
from app.hashing.winnow import Winnowing, fingerprints_each, index_rows
from app.settings import Settings
from app.store.base import Keys

# A paragraph's winnowed fingerprints: their values (as the store's signed
# keys, repeats included) and the query positions of their k-grams.
Winnowed = tuple[Keys, npt.NDArray[np.intp]]
_NO_KEYS: Keys = np.empty(0, dtype=np.int64)
_NONE_WINNOWED: Winnowed = (_NO_KEYS, np.empty(0, dtype=np.intp))


class Prints(NamedTuple):
    """Everything a check or an ingest needs of its paragraphs, computed in
    one pass: each text is analysed, signed and tokenised once."""

    analysis: Analysis
    # What the store indexes: band keys, then distinct passage fingerprints
    # (the band keys alone where ``prints`` was asked for no index keys).
    keys: list[Keys]
    bands: list[Keys]  # the band keys alone (empty: too short to index)
    # The tokens of every text (None: not asked for), and the winnowed
    # fingerprints of the indexable ones (None without passage postings).
    tokens: list[Tokens] | None = None
    winnowed: list[Winnowed] | None = None

    @staticmethod
    def join(parts: Sequence[Prints]) -> Prints:
        """The prints of consecutive slices of texts as one."""
        if len(parts) == 1:
            return parts[0]
        tokens = None if parts[0].tokens is None else [t for p in parts for t in p.tokens or ()]
        winnowed = None if parts[0].winnowed is None else [w for p in parts for w in p.winnowed or ()]
        return Prints(
            Analysis(
                [n for p in parts for n in p.analysis.normalised],
                [s for p in parts for s in p.analysis.shingles],
            ),
            [k for p in parts for k in p.keys],
            [k for p in parts for k in p.bands],
            tokens,
            winnowed,
        )


# Stores written before the scheme covered the NFKC table name the very same
# tables by the digest of the character table alone (xxh64 of its arrays):
# current digest -> that earlier name. Only tables byte-identical to those
# of that time are listed, so no store is accepted with other signatures.
EARLIER_TABLE_NAMES = {"9dbc5ded8678a63c": "5ad059a6e9fb67ff"}


def _distinct_each(arrays: list[npt.NDArray[np.uint64]]) -> list[npt.NDArray[np.uint64]]:
    """``np.unique`` of each array (sorted as unsigned, as the store has always
    received them), all of them in one sort instead of one call apiece."""
    if not arrays:
        return []
    values = np.concatenate(arrays)
    owners = np.repeat(np.arange(len(arrays)), [a.size for a in arrays])
    order = np.lexsort((values, owners))
    values, owners = values[order], owners[order]
    first = np.ones(values.size, dtype=bool)
    first[1:] = (values[1:] != values[:-1]) | (owners[1:] != owners[:-1])
    values, owners = values[first], owners[first]
    cuts = np.searchsorted(owners, np.arange(len(arrays) + 1)).tolist()
    return [values[a:b] for a, b in pairwise(cuts)]


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
        lsh: float | Bands,
        min_shingles: int,
        passages: Winnowing | None = None,
    ) -> Fingerprinter:
        """``lsh``: the band shape, or the Jaccard to tune one for."""
        hasher = MinHasher(num_perm=num_perm, shingle_size=shingle_size)
        bands = lsh if isinstance(lsh, Bands) else band_params(lsh, num_perm)
        return cls(hasher, bands, min_shingles, passages)

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

    def prints(
        self,
        texts: Sequence[str],
        analysis: Analysis | None = None,
        tokens: bool = False,
        index_keys: bool = True,
    ) -> Prints:
        """Analysis, band keys and passage fingerprints of the texts; with
        ``tokens``, the tokens of every text too (a check aligns passages on
        them), from the same tokeniser pass as the fingerprints. Without
        ``index_keys`` (a check that stores nothing: it looks the winnowed
        fingerprints up as they are), ``keys`` are the band keys alone."""
        analysis = self.analyse(texts) if analysis is None else analysis
        bands = self.keys_for(analysis)
        scheme = self.passages
        if scheme is None and not tokens:
            return Prints(analysis, bands, bands)
        indexable = [i for i, k in enumerate(bands) if k.size]
        every = tokenise(texts) if tokens else None
        if scheme is None:
            return Prints(analysis, bands, bands, every)
        chosen = (
            [every[i] for i in indexable] if every is not None else tokenise([texts[i] for i in indexable])
        )
        winnowed = [_NONE_WINNOWED] * len(texts)
        keys = list(bands)
        selected = fingerprints_each([t.ids for t in chosen], scheme)
        for i, (values, positions) in zip(indexable, selected, strict=True):
            winnowed[i] = (values.view(np.int64), positions)
        if index_keys:
            for i, distinct in zip(indexable, _distinct_each([v for v, _ in selected]), strict=True):
                keys[i] = np.concatenate((bands[i], distinct.view(np.int64)))
        return Prints(analysis, keys, bands, every, winnowed)

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
        texts = [*samples, "ﬁnal cafe\u0301\u00a0déjà vu", "北京，上海。"]
        self.band_keys(texts)
        # A check's own path (tokens and winnowed fingerprints in one pass,
        # exact overlaps): each kernel left out cost the first check ~3-8 ms.
        prints = self.prints(texts, tokens=True)
        shingles = prints.analysis.shingles[0]
        intersection_size(shingles, shingles)


def fingerprinter(settings: Settings) -> Fingerprinter:
    winnowing = Winnowing(settings.passage_kgram, settings.passage_window) if settings.passages else None
    lsh = settings.lsh_threshold if settings.bands_from_threshold else Bands(*settings.band_shape)
    return Fingerprinter.create(
        settings.num_perm, settings.shingle_size, lsh, settings.min_shingles, winnowing
    )
