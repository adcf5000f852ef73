"""A check's one wave on a Redis namespace: every shard's candidates for an
article's band keys and passage fingerprints (the script is
``redis_lua_reads.CANDIDATES``), with the client's copies of the shard
filters (``redis_filter_cache``) telling each shard which keys to look at."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from app.store.base import CandidateRule, Candidates, Keys, StoredParagraph
from app.store.distinct import counted, distinct, within
from app.store.hits import Hits
from app.store.redis_filter_cache import NO_COPY, FilterCache, FilterRefresher
from app.store.redis_layout import Layout, stored_paragraphs, unpack_hits
from app.store.redis_wave import Call, Waves


class CandidateWave:
    def __init__(
        self,
        layout: Layout,
        waves: Waves,
        scheme: str,
        read_filter: Callable[[int], tuple[bytes | None, bytes | None]],
    ) -> None:
        self.layout = layout
        self.waves = waves
        self.scheme = scheme
        # Copies of the shard filters, read once the first check needs them
        # (a client that only writes never reads them); namespaces whose
        # shards do not count their filter's changes are never copied.
        self.filters = FilterCache(layout.shards, layout.filter.size)
        self.refresher = FilterRefresher(self.filters, read_filter)
        self.copying = layout.filter.format.versioned and layout.filter.blocked

    def candidates(self, bands: Keys, postings: Keys, rule: CandidateRule) -> Candidates:
        band_keys = distinct(bands)
        posting_keys, occurrences = counted(postings)
        apart = ~within(posting_keys, band_keys)
        posting_keys = posting_keys[apart]
        votes = np.minimum(occurrences[apart], 255).astype(np.uint8)
        queries = np.concatenate([band_keys, posting_keys])
        if not queries.size:
            return Candidates(Hits.none(), {})
        layout = self.layout
        offsets, kind, masks = layout.packed_filter_tests(queries)
        copies = self._copies(offsets, masks)
        args: list[bytes | str | int] = [
            layout.heads(queries).tobytes(),
            band_keys.size,
            rule.refs_per_band,
            rule.max_postings,
            masks,
            offsets,
            kind,
            votes.tobytes(),
            rule.min_votes,
        ]
        calls = [
            Call(s, layout.metas[s], [layout.prefixes[s], *copies.get(s, (NO_COPY, b""))])
            for s in range(layout.shards)
        ]
        raw = self.waves.run_grouped("candidates", calls, args, [self.scheme], "check")
        indices: list[npt.NDArray[np.intp]] = []
        found: list[npt.NDArray[np.uint64]] = []
        stored: dict[int, StoredParagraph] = {}
        for shard, answer in raw.items():
            index, refs = unpack_hits(answer[0], answer[2], shard)
            indices.append(index)
            found.append(refs)
            stored.update(stored_paragraphs(shard, answer, 3))
        if self.copying:
            self.refresher.seen({shard: answer[1] for shard, answer in raw.items()})
        # The rule's cut of the merged hits, as the embedded store makes it
        # from its lookup's arrays (``hits_found`` wants the keys sorted).
        order = np.argsort(queries)
        place = np.empty(order.size, dtype=np.intp)
        place[order] = np.arange(order.size)
        hits = rule.hits_found(
            band_keys, queries[order], place[np.concatenate(indices)], np.concatenate(found)
        )
        wanted = rule.wanted(band_keys, postings, hits)
        return Candidates(hits, {r: stored[r] for r in wanted.tolist() if r in stored})

    def _copies(self, offsets: bytes, masks: bytes) -> dict[int, tuple[bytes, bytes]]:
        """Per shard with a copy of its filter: its generation and the
        queries that pass it."""
        if not self.copying:
            return {}
        self.refresher.start(range(self.layout.shards))  # once
        per = self.layout.filter.format.words
        word = (np.frombuffer(offsets, ">u4") >> 5).astype(np.intp).reshape(-1, per)
        return self.filters.passing(word, np.frombuffer(masks, ">u4").astype(np.uint32).reshape(-1, per))

    def close(self) -> None:
        self.refresher.close()
