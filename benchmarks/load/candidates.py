"""How many archived paragraphs a check verifies, and how alike they are to
the checked paragraph: one store against another, on the same articles.

    .venv/bin/python -m benchmarks.load.candidates --store LABEL=sqlite:///A.db
        --store LABEL=sqlite:///B.db --bodies bodies-1000000.jsonl [--svg out.svg] [--out out.json]

Each store is opened with the settings it was made with (a store with the
27 x 2 bands of its time keeps them), every article of ``--bodies`` (one
JSON ``{"text"}`` a line, as ``bench_load`` writes them) is checked in
process, and every candidate the check verifies is recorded with its exact
Jaccard index against the checked paragraph. The figures: candidates per
check (median, mean, p90, max), how many of them pass the thresholds (the
matches), the Jaccard histogram of the candidates, and with ``--svg`` that
histogram drawn per store. Counts, not times: the machine's load does not
change them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

import app.engine.check as check_module
from app.engine import Service
from app.hashing import overlap
from app.settings import Settings
from benchmarks.load.svg_bars import Frame, Series, grouped_bars

BINS = 10  # Jaccard deciles
COLOURS = ("#7a7a7a", "#1f77b4", "#d62728", "#2ca02c")


@contextmanager
def recording(scores: list[tuple[float, float]]) -> Iterator[None]:
    """Every candidate ``Checker._matches`` verifies, as (Jaccard, containment)."""
    # The class's own staticmethod object, put back as it was (read through
    # the class it would be the bare function, which then binds as a method).
    descriptor = check_module.Checker.__dict__["_matches"]
    original = check_module.Checker._matches

    def matches(shingles: Any, refs: list[int], stored: Any, sets: Any, limits: Any) -> Any:
        scores.extend(overlap(shingles, sets[ref]) for ref in refs)
        return original(shingles, refs, stored, sets, limits)

    check_module.Checker._matches = staticmethod(matches)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        check_module.Checker._matches = descriptor  # type: ignore[method-assign]


def measure(store: str, texts: list[str]) -> dict[str, Any]:
    settings = Settings(store=store)
    service = Service.open(settings)
    per_check: list[int] = []
    scores: list[tuple[float, float]] = []
    try:
        with recording(scores):
            for text in texts:
                before = len(scores)
                service.check(text)
                per_check.append(len(scores) - before)
        bands = service.fingerprinter.bands
    finally:
        service.close()
    similarity = np.array([s for s, _ in scores])
    containment = np.array([c for _, c in scores])
    passing = (similarity >= settings.similarity_threshold) | (containment >= settings.containment_threshold)
    ranked = sorted(per_check)
    return {
        "store": store,
        "bands": f"{bands.bands}x{bands.rows}",
        "checks": len(texts),
        "candidates": len(scores),
        "per_check": {
            "median": statistics.median(ranked),
            "mean": round(statistics.mean(ranked), 2),
            "p90": ranked[int(0.9 * (len(ranked) - 1))],
            "max": ranked[-1],
        },
        "passing": int(passing.sum()),
        "jaccard_deciles": np.bincount(np.minimum((similarity * BINS).astype(int), BINS - 1), minlength=BINS)
        .astype(int)
        .tolist(),
    }


def svg(results: dict[str, dict[str, Any]], title: str) -> str:
    """A grouped bar chart: candidates per check in each Jaccard decile, per store."""
    series = []
    for s, (label, r) in enumerate(results.items()):
        mean, passing = r["per_check"]["mean"], r["passing"]
        legend = f"{label}, {r['bands']} bands: {mean} a check, {passing} pass the thresholds"
        colour = COLOURS[s % len(COLOURS)]
        series.append(Series(legend, colour, [n / r["checks"] for n in r["jaccard_deciles"]]))
    return grouped_bars(
        title,
        [f"{b / BINS:.1f}" for b in range(BINS)],
        series,
        Frame(legend_x=820 - 400),
        x_label="Jaccard index of a verified candidate with the checked paragraph "
        "(lower bound of the decile)",
        y_label="candidates per check",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--store", action="append", required=True, help="LABEL=STORE_URL (repeat)")
    parser.add_argument("--bodies", type=Path, required=True)
    parser.add_argument("--svg", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--title", default="Candidates a check verifies")
    args = parser.parse_args(argv)
    if not args.bodies.is_file():
        print(f"{args.bodies} is absent: bench_load --cache DIR writes it", file=sys.stderr)
        return 2
    texts = [json.loads(line)["text"] for line in args.bodies.read_text(encoding="utf-8").splitlines()]
    results = {}
    for entry in args.store:
        label, _, url = entry.partition("=")
        results[label] = measure(url, texts)
        print(label, json.dumps({k: v for k, v in results[label].items() if k != "store"}), file=sys.stderr)
    if args.svg:
        args.svg.write_text(svg(results, args.title), encoding="utf-8")
    report = json.dumps({"bodies": str(args.bodies), "results": results}, indent=1)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")
    else:
        print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
