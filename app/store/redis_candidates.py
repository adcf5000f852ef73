"""A check's one wave on a Redis namespace: every shard's candidates for an
article's band keys and passage fingerprints (the script is
``redis_lua_reads.CANDIDATES``), with the client's copies of the shard
filters (``redis_filter_cache``) telling each shard which keys to look at."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.store.base import CandidateRule, Candidates, Keys, StoredParagraph
from app.store.distinct import counted, distinct, within
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
            return Candidates({}, {})
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
        listed = queries.tolist()
        found: dict[int, list[int]] = {}
        stored: dict[int, StoredParagraph] = {}
        for shard, answer in raw.items():
            for index, refs in unpack_hits(answer[0], answer[2], shard):
                found.setdefault(listed[index], []).extend(refs)
            stored.update(stored_paragraphs(shard, answer, 3))
        if self.copying:
            self.refresher.seen({shard: answer[1] for shard, answer in raw.items()})
        hits, wanted = rule.cut(band_keys, postings, found)
        return Candidates(hits, {r: stored[r] for r in wanted if r in stored})

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
