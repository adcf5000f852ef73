"""Checks and ingests that keep running through one Service while a Redis
Cluster changes under them (slots moved, a master killed), and the audit
afterwards: every acknowledged document readable, found by /check with
exact scores, and the counters equal to what the namespace holds.

Used by tests/test_redis_resharding.py and tests/test_redis_failover.py.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from app.engine import DocumentInput, Service
from app.store import StoreUnavailable
from tests.redis_servers import poll

# Made-up words: no two generated paragraphs share more than chance words,
# so each one's only exact match is itself.
SYLLABLES = ["ka", "lo", "mi", "ten", "ru", "sha", "vo", "pel", "dri", "nu", "gos", "ai", "bem", "tor"]


def paragraph(seed: str, index: int) -> str:
    rng = random.Random(f"{seed}/{index}")
    words = ["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(28)]
    return " ".join(words).capitalize() + "."


def text_of(doc_id: str, version: int = 0, paragraphs: int = 3) -> str:
    return "\n\n".join(paragraph(f"{doc_id}@{version}", i) for i in range(paragraphs))


def failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


@dataclass
class Traffic:
    """Writer and checker threads on one Service.

    Writers create new documents in small batches and update earlier ones
    (a new version of their text); ``acked`` holds the text of every write
    that returned, ``attempted`` every text sent (a failed call may still
    have been applied). Checkers check two paragraphs of a document stored
    before the traffic began and count an answer that misses it, or scores
    it below 1.0, as ``wrong`` (a silent failure is worse than a refusal)."""

    service: Service
    base: list[str]  # ids stored before the traffic, with text_of(id)
    writers: int = 1
    checkers: int = 1
    batch: int = 4
    acked: dict[str, str] = field(default_factory=dict)
    attempted: dict[str, list[str]] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    writes: int = 0  # acknowledged ingest calls
    checks: int = 0  # answered check calls
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Traffic:
        for n in range(self.writers):
            self._spawn(lambda n=n: self._write(n))  # type: ignore[misc]
        for n in range(self.checkers):
            self._spawn(lambda n=n: self._check(n))  # type: ignore[misc]
        return self

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        assert not any(t.is_alive() for t in self._threads), "a traffic thread hangs"

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write(self, writer: int) -> None:
        round_ = 0
        while not self._stop.is_set():
            round_ += 1
            docs = [f"w{writer}-{round_}-{k}" for k in range(self.batch)]
            batch = [DocumentInput(d, text_of(d)) for d in docs]
            if round_ % 3 == 0:
                # a new version of an earlier document of this writer
                earlier = f"w{writer}-{round_ // 3}-0"
                batch.append(DocumentInput(earlier, text_of(earlier, round_)))
            with self._lock:
                for doc in batch:
                    self.attempted.setdefault(doc.id, []).append(doc.text)
            try:
                self.service.ingest(batch)
            except Exception as exc:  # every failure is counted, none ends the traffic
                with self._lock:
                    self.failures["ingest " + failure(exc)] += 1
                continue
            with self._lock:
                self.writes += 1
                for doc in batch:
                    self.acked[doc.id] = doc.text

    def _check(self, checker: int) -> None:
        rng = random.Random(checker)
        while not self._stop.is_set():
            doc_id = rng.choice(self.base)
            try:
                wrong = missed(self.service, doc_id, text_of(doc_id), paragraphs=2)
            except Exception as exc:
                with self._lock:
                    self.failures["check " + failure(exc)] += 1
                continue
            with self._lock:
                self.checks += 1
                if wrong:
                    self.wrong.append(f"{doc_id}: {wrong}")

    def wait_for(self, writes: int = 0, checks: int = 0, deadline: float = 60.0) -> None:
        """Until ``writes`` more ingests and ``checks`` more checks were answered."""
        with self._lock:
            want = (self.writes + writes, self.checks + checks)
        poll(f"{writes} writes and {checks} checks", lambda: (self.writes, self.checks) >= want, deadline)

    def unavailable_only(self) -> list[str]:
        """The failures that are not a 503 'retry later' (StoreUnavailable)."""
        name = StoreUnavailable.__name__
        return [f for f in self.failures if not f.split(" ", 1)[1].startswith(name)]


def missed(service: Service, doc_id: str, text: str, paragraphs: int | None = None) -> list[str]:
    """What a /check of ``text`` (or of its first paragraphs) gets wrong about
    ``doc_id``, which stores exactly that text: each paragraph must match it,
    at the same index, with similarity and containment 1.0."""
    parts = text.split("\n\n")[:paragraphs]
    problems = []
    for result in service.check("\n\n".join(parts)):
        index = result.paragraph.index
        hits = [m for m in result.matches if m.source == "archive" and m.document_id == doc_id]
        if not hits:
            problems.append(f"paragraph {index} not found")
        elif (hits[0].paragraph_index, hits[0].similarity, hits[0].containment) != (index, 1.0, 1.0):
            problems.append(f"paragraph {index} found as {hits[0]}")
    return problems


def audit(service: Service, traffic: Traffic, base: list[str]) -> list[str]:
    """Everything wrong with the namespace after the traffic stopped."""
    problems: list[str] = []
    present: dict[str, str] = {d: text_of(d) for d in base}
    for doc_id, texts in traffic.attempted.items():
        try:
            stored = service.get(doc_id)
        except Exception as exc:  # a document the store cannot even read back
            problems.append(f"reading {doc_id}: {failure(exc)}")
            continue
        acked = traffic.acked.get(doc_id)
        if stored is None:
            if acked is not None:
                problems.append(f"acknowledged {doc_id} is gone")
            continue
        text = "\n\n".join(stored.paragraphs)
        # A failed call may have been applied: the stored version is the last
        # acknowledged one or one sent after it, never an older one.
        later = texts[texts.index(acked) :] if acked in texts else texts
        if text not in later:
            problems.append(f"{doc_id} holds a version older than the acknowledged one, or none sent")
        present[doc_id] = text
    for doc_id in sorted(set(traffic.acked) & set(present))[:: max(1, len(traffic.acked) // 150)]:
        try:
            problems += [f"{doc_id}: {p}" for p in missed(service, doc_id, present[doc_id])]
        except Exception as exc:
            problems.append(f"checking {doc_id}: {failure(exc)}")
    stats = service.stats()
    paragraphs = sum(t.count("\n\n") + 1 for t in present.values())
    if (stats.documents, stats.paragraphs) != (len(present), paragraphs):
        problems.append(
            f"counters say {stats.documents} documents, {stats.paragraphs} paragraphs; "
            f"the namespace holds {len(present)} and {paragraphs}"
        )
    return problems
