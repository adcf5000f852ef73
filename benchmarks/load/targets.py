"""Issue 15's targets, judged on bench_load's figures: each figure of each
size met or missed, and the growth from one size to the next (checks/s
drop, p99 growth). Pure: hand it the report's sizes, it measures nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

MB = 1_000_000


@dataclass(frozen=True)
class Target:
    name: str
    goal: float
    better: str  # "lower" or "higher"
    unit: str
    figure: Callable[[dict[str, Any]], float | None]

    def met(self, value: float) -> bool:
        return value <= self.goal if self.better == "lower" else value >= self.goal


def _get(size: dict[str, Any], *path: str) -> float | None:
    value: Any = size
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return None if value is None else float(value)


def _worst_private(size: dict[str, Any]) -> float | None:
    rss = size.get("paradup", {}).get("rss") or []
    values = [r["RssAnon"] for r in rss if "RssAnon" in r]
    return max(values) / MB if values else None


def _at(*path: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda size: _get(size, *path)


TARGETS: tuple[Target, ...] = (
    Target("/check p50, one connection", 3.0, "lower", "ms", _at("paradup", "sequential", "p50_ms")),
    Target("/check p99, one connection", 10.0, "lower", "ms", _at("paradup", "sequential", "p99_ms")),
    Target("checks/s, 2 workers (wrk)", 1000.0, "higher", "/s", _at("paradup", "rps")),
    Target("CLI ingest", 50_000.0, "higher", "paragraphs/s", _at("cli_ingest", "paragraphs_per_s")),
    Target("HTTP batch ingest", 20_000.0, "higher", "paragraphs/s", _at("http_ingest", "paragraphs_per_s")),
    Target("start-up to the first /check", 1.0, "lower", "s", _at("paradup", "startup_s")),
    Target("private memory per worker (RssAnon)", 500.0, "lower", "MB", _worst_private),
    Target("disk beyond the text", 300.0, "lower", "B/paragraph", _at("disk", "beyond_text_per_paragraph")),
)
# From one size to a 10x larger one: how much may checks/s fall and p99 grow.
MAX_THROUGHPUT_DROP = 1.3
MAX_P99_GROWTH = 1.5


def judge(size: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target for one size: its value (None when not measured) and met/missed."""
    out = []
    for target in TARGETS:
        value = target.figure(size)
        out.append(
            {
                "target": target.name,
                "goal": f"{'<=' if target.better == 'lower' else '>='} {target.goal:,g} {target.unit}",
                "value": None if value is None else round(value, 3),
                "unit": target.unit,
                "met": None if value is None else target.met(value),
            }
        )
    return out


def growth(sizes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks/s drop and one-connection p99 growth between consecutive sizes."""
    out = []
    for small, large in pairwise(sizes):
        rps = (_get(small, "paradup", "rps"), _get(large, "paradup", "rps"))
        p99 = (
            _get(small, "paradup", "sequential", "p99_ms"),
            _get(large, "paradup", "sequential", "p99_ms"),
        )
        drop = rps[0] / rps[1] if rps[0] and rps[1] else None
        grown = p99[1] / p99[0] if p99[0] and p99[1] else None
        out.append(
            {
                "from": small["paragraphs"],
                "to": large["paragraphs"],
                "checks_per_s_drop": None if drop is None else round(drop, 3),
                "checks_per_s_drop_met": None if drop is None else drop <= MAX_THROUGHPUT_DROP,
                "p99_growth": None if grown is None else round(grown, 3),
                "p99_growth_met": None if grown is None else grown <= MAX_P99_GROWTH,
            }
        )
    return out
