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
from xml.sax.saxutils import escape

import numpy as np

import app.engine.check as check_module
from app.engine import Service
from app.hashing import overlap
from app.settings import Settings

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
    width, height, left, bottom, top = 820, 360, 60, 50, 40
    plot_w, plot_h = width - left - 20, height - top - bottom
    series = [(label, [n / r["checks"] for n in r["jaccard_deciles"]]) for label, r in results.items()]
    peak = max((v for _, values in series for v in values), default=1.0) or 1.0
    group = plot_w / BINS
    bar = group * 0.8 / max(1, len(series))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
    ]
    for tick in range(5):
        value = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.1f}</text>')
    for b in range(BINS):
        x = left + group * b + group / 2
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{b / BINS:.1f}</text>')
        for s, (_, values) in enumerate(series):
            h = plot_h * values[b] / peak
            x0 = left + group * b + group * 0.1 + bar * s
            out.append(
                f'<rect x="{x0:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[s % len(COLOURS)]}"/>'
            )
    out.append(
        f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">'
        "Jaccard index of a verified candidate with the checked paragraph (lower bound of the decile)</text>"
    )
    out.append(
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">candidates per check</text>'
    )
    for s, (label, _) in enumerate(series):
        y = top + 14 * s
        out.append(
            f'<rect x="{width - 400}" y="{y}" width="10" height="10" fill="{COLOURS[s % len(COLOURS)]}"/>'
        )
        r = results[label]
        mean, passing = r["per_check"]["mean"], r["passing"]
        legend = f"{label}, {r['bands']} bands: {mean} a check, {passing} pass the thresholds"
        out.append(f'<text x="{width - 385}" y="{y + 9}">{escape(legend)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


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
