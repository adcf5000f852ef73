"""Standalone against cluster in alternating rounds: the wrk runs of the two
take turns (the one going first flips every round), and each ratio is the
median of the per-round ratios, so that the other jobs on the shared cores
weigh on both alike."""

from __future__ import annotations

from collections.abc import Callable
from statistics import median
from typing import Any

Figure = Callable[[dict[str, Any]], float | None]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _rate(run: dict[str, Any]) -> float | None:
    return _number(run.get("checks_per_s"))


def _p50(run: dict[str, Any]) -> float | None:
    return _number(run["latency_ms"].get("p50"))


def _p99(run: dict[str, Any]) -> float | None:
    return _number(run["latency_ms"].get("p99"))


FIGURES: dict[str, Figure] = {"checks_per_s": _rate, "p50_ms": _p50, "p99_ms": _p99}


def alternate(
    urls: dict[str, str], rounds: int, run: Callable[[str], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    names = list(urls)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for n in range(rounds):
        for name in names if n % 2 == 0 else names[::-1]:
            out[name].append(run(urls[name]))
    return out


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the rounds, and every round."""
    if not runs or "skipped" in runs[0]:
        return runs[0] if runs else {"skipped": "no round"}
    figures = {name: [v for r in runs if (v := get(r)) is not None] for name, get in FIGURES.items()}
    out = {**{k: v for k, v in runs[0].items() if k not in ("checks_per_s", "latency_ms")}}
    out["checks_per_s"] = median(figures["checks_per_s"])
    out["latency_ms"] = {"p50": median(figures["p50_ms"]), "p99": median(figures["p99_ms"])}
    out["non_2xx"] = sum(r.get("non_2xx", 0) for r in runs)
    out["rounds"] = [{name: get(r) for name, get in FIGURES.items()} for r in runs]
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    return round(b / a, 3) if a and b else None


def paired(base: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, Any]:
    """other / base per round for each figure: the median and the range."""
    out: dict[str, Any] = {}
    for name, get in FIGURES.items():
        per_round = [ratio(get(a), get(b)) for a, b in zip(base, other, strict=True)]
        known = [r for r in per_round if r is not None]
        out[name] = median(known) if known else None
        out[f"{name}_range"] = [min(known), max(known)] if known else None
    return out


def cluster_ratios(
    standalone: dict[str, Any], cluster: dict[str, Any], rounds: dict[str, Any]
) -> dict[str, Any]:
    """cluster / standalone of each figure: above 1, the cluster is faster
    (rates) or slower (latencies). The wrk figures are paired by round; the
    ingest and in-process figures come from one run each."""
    return {
        **rounds,
        "ingest_paragraphs_per_s": ratio(
            standalone["ingest"]["paragraphs_per_s"], cluster["ingest"]["paragraphs_per_s"]
        ),
        "http_ingest_paragraphs_per_s": ratio(
            standalone["http_ingest"]["paragraphs_per_s"], cluster["http_ingest"]["paragraphs_per_s"]
        ),
        "single_check_per_s": ratio(
            standalone["single_paragraph"]["check_per_s"], cluster["single_paragraph"]["check_per_s"]
        ),
        "bytes_per_paragraph_beyond_text": ratio(
            standalone["ingest"]["bytes_per_paragraph_beyond_text"],
            cluster["ingest"]["bytes_per_paragraph_beyond_text"],
        ),
    }
