"""The passage issue's targets, computed from the evaluation's tallies."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

# (row, kinds pooled, comparison, target); a rate unless said otherwise.
RATE_TARGETS = [
    ("quote inserted, verbatim: recall", ("quote_verbatim",), ">=", 0.95),
    ("quote inserted, one word changed: recall", ("quote_word_changed",), ">=", 0.90),
    ("two paragraphs sent as one, one as two", ("merged", "split"), ">=", 0.98),
    ("sentence repeated later in the article", ("article_repeat",), ">=", 0.95),
    ("unseen paragraphs flagged (false positives)", ("unseen",), "<=", 0.002),
    ("French wire passages inside longer paragraphs", ("natural_reuse",), ">=", 0.98),
]
QUOTES = ("quote_verbatim", "quote_word_changed")
CLOUGH_TARGETS = {"cut": (">=", 17), "light": (">=", 16), "heavy": (">=", 10), "non": ("<=", 0)}


def _pooled(cells: dict[str, dict[str, Any]], kinds: Iterable[str]) -> dict[str, Any]:
    kinds = set(kinds)
    chosen = [c for key, c in cells.items() if key.split("|")[0] in kinds]
    n = sum(c["n"] for c in chosen)
    return {
        "n": n,
        "hit": sum(c["hit"] for c in chosen),
        "iou_body": [x for c in chosen for x in c["iou_body"]],
        "iou_source": [x for c in chosen for x in c["iou_source"]],
    }


def _met(value: float, op: str, target: float) -> bool:
    return value >= target if op == ">=" else value <= target


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    cells = results["cells"]
    rows = []
    for label, kinds, op, target in RATE_TARGETS:
        pool = _pooled(cells, kinds)
        value = pool["hit"] / pool["n"] if pool["n"] else float("nan")
        rows.append({"target": label, "measured": value, "of": f"{pool['hit']}/{pool['n']}", "op": op,
                     "goal": target, "met": pool["n"] > 0 and _met(value, op, target)})  # fmt: skip
    quotes = _pooled(cells, QUOTES)
    for where in ("body", "source"):
        ious = quotes[f"iou_{where}"]
        value = statistics.fmean(ious) if ious else float("nan")
        rows.append({"target": f"quote span IoU, mean, in the {where}", "measured": value,
                     "of": f"{len(ious)} spans", "op": ">=", "goal": 0.8,
                     "met": bool(ious) and value >= 0.8})  # fmt: skip
    for category, (op, goal) in CLOUGH_TARGETS.items():
        cell = results["clough_stevenson"].get(category, {"n": 0, "flagged": 0})
        rows.append({"target": f"Clough-Stevenson {category}: answers flagged", "measured": cell["flagged"],
                     "of": f"{cell['flagged']}/{cell['n']}", "op": op, "goal": goal,
                     "met": cell["n"] > 0 and _met(cell["flagged"], op, goal)})  # fmt: skip
    return rows


def summarise(cells: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per kind, corpus and format: rate and mean IoUs (the JSON's detail)."""
    out = {}
    for key, c in sorted(cells.items()):
        out[key] = {
            "n": c["n"],
            "rate": c["hit"] / c["n"] if c["n"] else None,
            "iou_body": statistics.fmean(c["iou_body"]) if c["iou_body"] else None,
            "iou_source": statistics.fmean(c["iou_source"]) if c["iou_source"] else None,
        }
    return out


def render_targets(rows: list[dict[str, Any]]) -> str:
    lines = ["| target | measured | of | goal | met |", "|---|---|---|---|---|"]
    for r in rows:
        value = r["measured"]
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(
            f"| {r['target']} | {shown} | {r['of']} | {r['op']} {r['goal']} | {'yes' if r['met'] else 'NO'} |"
        )
    return "\n".join(lines)
