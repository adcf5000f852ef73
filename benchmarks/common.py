"""Helpers shared by the throughput benchmarks: corpus samples, timing, machine facts.

Corpus text is read at run time from the shared corpora directory and never
written anywhere but the caller's memory; results hold only numbers.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

DEFAULT_CORPORA = Path(
    os.environ.get("PARADUP_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora")
)

# name -> file: one document file per language (two sources for English:
# wire copy and edited features differ in paragraph length).
LANGUAGE_FILES = {
    "en-bbc": "en_bbc_news.jsonl",
    "en-reuters": "en_reuters21578.jsonl",
    "fr": "fr_gilets_jaunes_press.jsonl",
    "es": "es_gilets_jaunes_press.jsonl",
    "zh": "zh_gilets_jaunes_press.jsonl",
    "ar": "ar_saudinewsnet.jsonl",
}


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def sample_paragraphs(path: Path, size: int, seed: int = 0, max_mb: float | None = None) -> list[str]:
    """Up to ``size`` non-blank paragraphs drawn at random without replacement,
    fewer if they would exceed ``max_mb`` of UTF-8 (corpora whose paragraph
    breaks were lost have paragraphs of thousands of characters)."""
    paragraphs = [
        p.strip() for doc in read_jsonl(path) for p in str(doc.get("text", "")).split("\n\n") if p.strip()
    ]
    order = random.Random(seed).sample(range(len(paragraphs)), min(size, len(paragraphs)))
    if max_mb is not None:
        budget = max_mb * 1e6
        for taken, i in enumerate(order):
            budget -= len(paragraphs[i].encode("utf-8", "surrogatepass"))
            if budget < 0:
                order = order[: max(1, taken)]
                break
    return [paragraphs[i] for i in sorted(order)]


def utf8_megabytes(texts: Sequence[str]) -> float:
    return sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6


@dataclass
class Contestant:
    name: str
    run: Callable[[Sequence[str]], object]
    # Texts it is timed on; None: the corpus sample itself.
    texts: Sequence[str] | None = None


def calls_per_round(run: Callable[[], object], min_seconds: float) -> int:
    """How many back-to-back calls make one timing of at least ``min_seconds``
    (short timings are mostly scheduler noise on a busy machine)."""
    start = time.perf_counter()
    run()
    once = max(time.perf_counter() - start, 1e-9)
    return max(1, int(min_seconds / once) + 1)


def time_rounds(
    contestants: Sequence[Contestant], texts: Sequence[str], rounds: int, min_seconds: float
) -> dict[str, list[float]]:
    """Seconds per paragraph of each contestant in each round.

    Each contestant runs once untimed first (warm-up: compiled kernels,
    caches). The order is rotated between rounds so that no contestant
    always runs right after the slowest one, or always first.
    """
    repeats = {c.name: calls_per_round(partial(c.run, c.texts or texts), min_seconds) for c in contestants}
    per_paragraph: dict[str, list[float]] = {c.name: [] for c in contestants}
    for r in range(rounds):
        shift = r % len(contestants)
        for c in [*contestants[shift:], *contestants[:shift]]:
            data = c.texts or texts
            start = time.perf_counter()
            for _ in range(repeats[c.name]):
                c.run(data)
            elapsed = time.perf_counter() - start
            per_paragraph[c.name].append(elapsed / (repeats[c.name] * len(data)))
    return per_paragraph


def median_ratio(slower: Sequence[float], faster: Sequence[float]) -> float:
    """Median over rounds of the per-round ratio: both timed in the same
    round, so a slow patch of the machine affects both sides."""
    return statistics.median(s / f for s, f in zip(slower, faster, strict=True))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info(packages: Sequence[str]) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {p: package_version(p) for p in packages},
    }
