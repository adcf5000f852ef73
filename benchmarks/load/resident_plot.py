"""The latency chart of ``bench_load --resident-ab`` (one-connection /check
p50 and p99 per round, without and with PARADUP_RESIDENT), drawn from its
JSON as a small SVG (no plotting library needed).

    python -m benchmarks.load.resident_plot results.json out.svg
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path
from typing import Any

from benchmarks.load.ab import AFTER, BEFORE

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
    width, height, left, bottom, top = 720, 340, 60, 40, 40
    plot_w, plot_h = width - left - 240, height - top - bottom
    peak = max((v for _, _, values in bars for v in values), default=1.0) or 1.0
    group = plot_w / max(1, len(groups))
    bar = group * 0.8 / max(1, len(bars))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
    ]
    for tick in range(5):
        y = top + plot_h - plot_h * tick / 4
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{peak * tick / 4:.1f}</text>')
    for g, name in enumerate(groups):
        x = left + group * g + group / 2
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{escape(name)}</text>')
        for s, (_, key, values) in enumerate(bars):
            h = plot_h * values[g] / peak
            x0 = left + group * g + group * 0.1 + bar * s
            out.append(
                f'<rect x="{x0:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[key]}"><title>{values[g]:.2f} ms</title></rect>'
            )
            out.append(
                f'<text x="{x0 + bar / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle" '
                f'font-size="10">{values[g]:.1f}</text>'
            )
    for s, (legend, key, _) in enumerate(bars):
        y = top + 18 * s
        out.append(f'<rect x="{left + plot_w + 20}" y="{y}" width="10" height="10" fill="{COLOURS[key]}"/>')
        out.append(f'<text x="{left + plot_w + 35}" y="{y + 9}">{escape(legend)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    report = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    Path(argv[1]).write_text(svg(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
