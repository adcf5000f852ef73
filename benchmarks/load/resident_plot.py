"""The latency chart of ``bench_load --resident-ab`` (one-connection /check
p50 and p99 per round, without and with PARADUP_RESIDENT), drawn from its
JSON as a small SVG (no plotting library needed).

    python -m benchmarks.load.resident_plot results.json out.svg
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.load.ab import AFTER, BEFORE
from benchmarks.load.svg_bars import Frame, Series, grouped_bars

COLOURS = {
    ("before", "p50"): "#9ecae1",
    ("before", "p99"): "#3182bd",
    ("after", "p50"): "#fdae6b",
    ("after", "p99"): "#e6550d",
}


def series(report: dict[str, Any]) -> tuple[list[str], list[tuple[str, tuple[str, str], list[float]]]]:
    """Round names, and per (version, percentile) its value in each round."""
    rounds = report["sizes"][0]["rounds"]
    numbers = sorted({r["round"] for r in rounds})
    by = {(r["round"], r["label"]): r for r in rounds}
    settings = {
        label: report["versions"][label]["settings"].get("PARADUP_RESIDENT", "off")
        for label in (BEFORE, AFTER)
    }
    out = []
    for label in (BEFORE, AFTER):
        for pct in ("p50", "p99"):
            values = [
                float(by[(n, label)][f"sequential_{pct}_ms"]) if (n, label) in by else 0.0 for n in numbers
            ]
            out.append((f"PARADUP_RESIDENT={settings[label]}, {pct}", (label, pct), values))
    return [f"round {n}" for n in numbers], out


def svg(report: dict[str, Any]) -> str:
    groups, bars = series(report)
    size = report["sizes"][0]["paragraphs"]
    title = f"/check on one connection, {size:,} paragraphs, after {report.get('idle_s', 0)} s unused (ms)"
    drawn = [Series(legend, COLOURS[key], values) for legend, key, values in bars]
    frame = Frame(width=720, height=340, bottom=40, legend_width=220, legend_step=18)
    return grouped_bars(title, groups, drawn, frame, value_labels=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    report = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    Path(argv[1]).write_text(svg(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
