"""A grouped bar chart as a small SVG, for the benchmarks' figures (no
plotting library needed): groups along the x axis, one bar per series in
each group, a legend of the series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Series:
    legend: str
    colour: str
    values: Sequence[float]


@dataclass(frozen=True)
class Frame:
    """Sizes in pixels; ``legend_x``: where the legend starts (``None``: right
    of the plot, which then leaves it ``legend_width``)."""

    width: int = 820
    height: int = 360
    left: int = 60
    bottom: int = 50
    top: int = 40
    legend_width: int = 0
    legend_x: int | None = None
    legend_step: int = 14


def grouped_bars(
    title: str,
    groups: Sequence[str],
    series: Sequence[Series],
    frame: Frame = Frame(),
    x_label: str = "",
    y_label: str = "",
    value_labels: bool = False,
) -> str:
    """The chart; ``value_labels`` writes each bar's value above it."""
    f = frame
    plot_w, plot_h = f.width - f.left - 20 - f.legend_width, f.height - f.top - f.bottom
    peak = max((v for s in series for v in s.values), default=1.0) or 1.0
    group = plot_w / max(1, len(groups))
    bar = group * 0.8 / max(1, len(series))
    base = f.top + plot_h
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{f.width}" height="{f.height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{f.width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<line x1="{f.left}" y1="{base}" x2="{f.left + plot_w}" y2="{base}" stroke="black"/>',
        f'<line x1="{f.left}" y1="{f.top}" x2="{f.left}" y2="{base}" stroke="black"/>',
    ]
    for tick in range(5):
        y = base - plot_h * tick / 4
        out.append(f'<text x="{f.left - 6}" y="{y + 4:.1f}" text-anchor="end">{peak * tick / 4:.1f}</text>')
    for g, name in enumerate(groups):
        x = f.left + group * g + group / 2
        out.append(f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">{escape(name)}</text>')
        for s, one in enumerate(series):
            h = plot_h * one.values[g] / peak
            x0 = f.left + group * g + group * 0.1 + bar * s
            out.append(
                f'<rect x="{x0:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{one.colour}"/>'
            )
            if value_labels:
                out.append(
                    f'<text x="{x0 + bar / 2:.1f}" y="{base - h - 3:.1f}" text-anchor="middle" '
                    f'font-size="10">{one.values[g]:.1f}</text>'
                )
    if x_label:
        x = f.left + plot_w / 2
        out.append(f'<text x="{x}" y="{f.height - 12}" text-anchor="middle">{escape(x_label)}</text>')
    if y_label:
        middle = f.top + plot_h / 2
        out.append(
            f'<text x="14" y="{middle}" text-anchor="middle" transform="rotate(-90 14 {middle})">'
            f"{escape(y_label)}</text>"
        )
    legend_x = f.left + plot_w + 20 if f.legend_x is None else f.legend_x
    for s, one in enumerate(series):
        y = f.top + f.legend_step * s
        out.append(f'<rect x="{legend_x}" y="{y}" width="10" height="10" fill="{one.colour}"/>')
        out.append(f'<text x="{legend_x + 15}" y="{y + 9}">{escape(one.legend)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
