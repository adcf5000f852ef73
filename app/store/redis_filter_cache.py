"""A client's copy of its namespace's shard filters, so that a check asks
each shard only about the keys that pass that shard's filter.

Without it every shard of a check tests every key of the article on the
server (one BITFIELD_RO of a few hundred offsets, and their conversion
between Lua and Redis): ~0.2 ms a shard, paid 32 times by a check on a
cluster. Here the client tests all shards at once in numpy and sends each
shard the few keys that pass, with the generation (meta's ``fgen``) its copy
was taken at. The shard's script trusts the list only when its generation
is still that one, and tests on the server otherwise (as without a copy): a
copy that is out of date costs speed, never a candidate, and a write by any
other client is seen by the very next check.

Every change of a shard's filter gives it a new random generation (APPLY), and only
namespaces whose filter format says so (``FilterFormat.versioned``) are
copied. A shard that answered with another generation is read again by a
background thread, at most once every ``min_interval`` seconds, so that a
steady stream of writes costs a bounded number of filter reads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

logger = logging.getLogger("paradup.redis")

U32 = npt.NDArray[np.uint32]
# A shard's generation and filter (None: no filter yet), as the shard holds them.
Fetch = Callable[[int], tuple[bytes | None, bytes | None]]
NO_COPY = b""  # the generation sent for a shard without a copy: never a shard's


def new_generation() -> int:
    """A filter's next generation: random (48 bits), so that two histories
    of a shard (a replica promoted without the last writes, a namespace
    deleted and made again) do not reach the same number with other bits."""
    return int.from_bytes(os.urandom(6), "big")


@dataclass(frozen=True)
class _Copy:
    generation: bytes
    words: U32  # the filter's 32-bit words as BITFIELD reads them (big-endian)


class FilterCache:
    """Copies of one namespace's shard filters (each ``size`` bytes)."""

    def __init__(self, shards: int, size: int) -> None:
        self.shards = shards
        self.size = size
        # Replaced whole, never changed in place: a check reads a shard's
        # generation and words from one object, whatever a refresh does.
        self._copies: dict[int, _Copy] = {}
        # The copies stacked (``_stacked``), with the dict they were made from.
        self._stack: tuple[dict[int, _Copy], tuple[list[int], list[bytes], U32] | None] | None = None

    def put(self, shard: int, generation: bytes | None, bitmap: bytes | None) -> None:
        """A shard's filter as read (with its generation, in one script)."""
        if generation is None:
            # A shard that does not count its changes cannot be copied.
            self._copies = {s: c for s, c in self._copies.items() if s != shard}
            return
        raw = (bitmap or b"")[: self.size]
        # Redis strings grow as bits are set: the rest reads as zeros.
        padded = raw + bytes(self.size - len(raw)) if len(raw) < self.size else raw
        words = np.frombuffer(padded, ">u4").astype(np.uint32)
        self._copies = {**self._copies, shard: _Copy(generation, words)}

    def generation(self, shard: int) -> bytes | None:
        found = self._copies.get(shard)
        return None if found is None else found.generation

    def passing(self, word: npt.NDArray[np.intp], mask: U32) -> dict[int, tuple[bytes, bytes]]:
        """Per shard with a copy: its generation and the (4-byte) indexes
        of the queries (rows) whose ``mask`` bits are all set in every one
        of their words."""
        stack = self._stacked()
        if stack is None:
            return {}
        shards, generations, words = stack
        # Every shard at once (shard, query, word): a few numpy calls for a
        # check instead of a few per shard, 32 shards on a cluster.
        passed = ((words[:, word] & mask) == mask).all(axis=2)
        rows, queries = np.nonzero(passed)
        blob = queries.astype(">u4").tobytes()
        ends = (4 * np.cumsum(np.bincount(rows, minlength=len(shards)))).tolist()
        starts = [0, *ends[:-1]]
        return {
            shard: (generation, blob[a:b])
            for shard, generation, a, b in zip(shards, generations, starts, ends, strict=True)
        }

    def _stacked(self) -> tuple[list[int], list[bytes], U32] | None:
        """The copies as one matrix (a row a shard), made again after any
        copy changed (at most about once a second a shard)."""
        copies = self._copies
        stack = self._stack
        if stack is not None and stack[0] is copies:
            return stack[1]
        if not copies:
            made = None
        else:
            shards = sorted(copies)
            made = (
                shards,
                [copies[s].generation for s in shards],
                np.stack([copies[s].words for s in shards]),
            )
        self._stack = (copies, made)
        return made


class FilterRefresher:
    """Reads again, in a thread of its own, the shards whose copies are out
    of date. ``fetch`` reads one shard; errors are logged and the shard is
    tried again later (a check never waits for this thread)."""

    def __init__(self, cache: FilterCache, fetch: Fetch, min_interval: float = 1.0) -> None:
        self.cache = cache
        self.fetch = fetch
        self.min_interval = min_interval
        self._stale: set[int] = set()
        self._last: dict[int, float] = {}
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def start(self, shards: range) -> None:
        """Starts the thread, the first time, with every shard to read."""
        if self._thread is not None:
            return
        with self._wake:
            if self._thread is not None or self._closed:
                return
            self._stale.update(shards)
            self._thread = threading.Thread(target=self._run, name="paradup-redis-filters", daemon=True)
            self._thread.start()

    def seen(self, answers: Mapping[int, bytes | None]) -> None:
        """Each shard's generation as a check's answer gave it (None: the
        copy was current); shards whose copy is behind are read again."""
        behind = {s for s, g in answers.items() if g is not None and g != self.cache.generation(s)}
        if behind:
            with self._wake:  # the thread changes the set too
                if behind - self._stale:
                    self._stale |= behind
                    self._wake.notify()

    def refresh(self, shard: int) -> None:
        """Reads one shard now (tests, and the thread)."""
        generation, bitmap = self.fetch(shard)
        self.cache.put(shard, generation, bitmap)

    def _next(self) -> int | None:
        """The next shard due, waiting for one; None once closed."""
        with self._wake:
            while not self._closed:
                now = time.monotonic()
                due = [s for s in self._stale if now - self._last.get(s, -1e9) >= self.min_interval]
                if due:
                    shard = min(due)
                    self._stale.discard(shard)
                    self._last[shard] = now
                    return shard
                soonest = min((self._last[s] + self.min_interval - now for s in self._stale), default=None)
                self._wake.wait(soonest)
            return None

    def _run(self) -> None:
        while (shard := self._next()) is not None:
            try:
                self.refresh(shard)
            except Exception:  # a lost Redis: checks go on testing on the server
                logger.warning("could not read the filter of Redis shard %d; trying again later", shard)
                with self._wake:
                    self._stale.add(shard)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
