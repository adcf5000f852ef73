"""Pure parts of the two-version (A/B) load benchmark: the order of the
rounds, the statistics over them, and the store's per-table bytes.

No processes, no clocks: bench_load_ab.py runs the versions and hands the
numbers it measured to these functions.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

BEFORE = "before"
AFTER = "after"

# Per-round figures of one version, and which way is better for each.
ROUND_METRICS: dict[str, str] = {
    "sequential_p50_ms": "lower",
    "sequential_p99_ms": "lower",
    "sequential_httpx_p50_ms": "lower",
    "sequential_httpx_p99_ms": "lower",
    "checks_per_s": "higher",
    "server_cpu_ms_per_check": "lower",
    "load_p99_ms": "lower",
    "startup_s": "lower",
}


def round_order(rounds: int, labels: Sequence[str] = (BEFORE, AFTER)) -> list[tuple[int, str]]:
    """(round, label) in run order. Versions alternate, and the version that
    goes first flips every round (A B, B A, A B, ...), so that a drift in the
    machine's load over the run does not favour the version always run first."""
    order: list[tuple[int, str]] = []
    for number in range(rounds):
        ordered = labels if number % 2 == 0 else tuple(reversed(labels))
        order.extend((number, label) for label in ordered)
    return order


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(after: float, before: float) -> float:
    return after / before if before else float("nan")


def summarise(rounds: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """For each metric: the median over rounds of each version, and the
    median (and range) over rounds of the per-round ratio after / before:
    both versions of a round ran back to back, so the pair shares the
    machine's state. Rounds missing a version are left out."""
    by_round: dict[int, dict[str, Mapping[str, Any]]] = {}
    for entry in rounds:
        by_round.setdefault(int(entry["round"]), {})[str(entry["label"])] = entry
    paired = [pair for pair in by_round.values() if BEFORE in pair and AFTER in pair]
    out: dict[str, dict[str, float]] = {}
    for metric in ROUND_METRICS:
        before = [float(p[BEFORE][metric]) for p in paired if metric in p[BEFORE]]
        after = [float(p[AFTER][metric]) for p in paired if metric in p[AFTER]]
        if not before or len(before) != len(after):
            continue
        ratios = [ratio(a, b) for a, b in zip(after, before, strict=True)]
        out[metric] = {
            BEFORE: median(before),
            AFTER: median(after),
            "ratio": median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "rounds": float(len(before)),
        }
    return out


def bytes_beyond_text(tables: Mapping[str, int], text_bytes: int, paragraphs: int) -> dict[str, float]:
    """Bytes per paragraph of each table or index, and of all of them minus
    the paragraphs' UTF-8 text."""
    if paragraphs <= 0:
        return {}
    out = {name: round(size / paragraphs, 1) for name, size in sorted(tables.items())}
    out["total"] = round(sum(tables.values()) / paragraphs, 1)
    out["beyond_text"] = round((sum(tables.values()) - text_bytes) / paragraphs, 1)
    return out
