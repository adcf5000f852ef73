"""Scoring check answers against the ground truth, and the printed table."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from benchmarks.quality.dataset import Article, CorpusSet, Item

Tally = dict[str, int]


def _hit(item: Item, answer: dict[str, Any], corpus: CorpusSet) -> bool:
    matches = answer["matches"]
    if answer.get("boilerplate") and item.kind != "repeat":
        # Reported as boilerplate: found in many archived documents, listed as
        # a count instead of matches. That is a detection of archived text.
        return True
    if item.kind == "repeat":
        return any(m["source"] == "article" and m["paragraph_index"] == item.repeat_of for m in matches)
    archive = {(m["document_id"], m["paragraph_index"]) for m in matches if m["source"] == "archive"}
    if item.source is None:  # natural reuse: whichever archived copy is found
        return bool(archive)
    return bool(archive & corpus.copies.get(item.source_key, {item.source}))


class Score:
    """Running counts for one system."""

    def __init__(self) -> None:
        # kind -> corpus -> {"n", "hit"}; "negative" counts flagged ones.
        self.counts: dict[str, dict[str, Tally]] = defaultdict(
            lambda: defaultdict(lambda: {"n": 0, "hit": 0})
        )
        self.by_mode: dict[str, Tally] = defaultdict(lambda: {"n": 0, "hit": 0})
        self.latency: list[float] = []
        self.misaligned = 0

    def add(self, article: Article, corpus: CorpusSet, answer: dict[str, Any], seconds: float) -> None:
        self.latency.append(seconds)
        paragraphs = answer["paragraphs"]
        if len(paragraphs) != len(article.items):
            self.misaligned += 1
            return
        for item, got in zip(article.items, paragraphs, strict=True):
            if item.kind == "ambiguous":
                continue
            cell = self.counts[item.kind][corpus.name]
            cell["n"] += 1
            if item.kind == "negative":
                cell["hit"] += got["status"] == "duplicate"
                continue
            hit = _hit(item, got, corpus)
            cell["hit"] += hit
            if item.source is not None:
                self.by_mode[article.mode]["n"] += 1
                self.by_mode[article.mode]["hit"] += hit

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latency)
        p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))] if lat else 0.0
        negatives = self.counts.get("negative", {})
        n_neg = sum(c["n"] for c in negatives.values())
        flagged = sum(c["hit"] for c in negatives.values())
        return {
            "recall": {
                kind: {name: {**cell, "rate": _rate(cell)} for name, cell in per.items()}
                for kind, per in self.counts.items()
                if kind != "negative"
            },
            "recall_by_mode": {mode: {**cell, "rate": _rate(cell)} for mode, cell in self.by_mode.items()},
            "false_positives": {
                "per_corpus": {name: {**cell, "rate": _rate(cell)} for name, cell in negatives.items()},
                "n": n_neg,
                "flagged": flagged,
                "rate": flagged / n_neg if n_neg else 0.0,
            },
            "latency_ms": {
                "checks": len(lat),
                "median": 1000 * statistics.median(lat) if lat else 0.0,
                "p99": 1000 * p99,
            },
            "misaligned_answers": self.misaligned,
        }


def _rate(cell: Tally) -> float:
    return cell["hit"] / cell["n"] if cell["n"] else float("nan")


def _cell(summaries: dict[str, dict[str, Any]], kind: str, corpus: str | None) -> str:
    parts = []
    for summary in summaries.values():
        per = summary["recall"].get(kind, {})
        cells = [per[corpus]] if corpus and corpus in per else list(per.values()) if corpus is None else []
        n = sum(c["n"] for c in cells)
        hit = sum(c["hit"] for c in cells)
        parts.append(f"{hit / n:.3f}" if n else "-")
    return " / ".join(parts)


def table(summaries: dict[str, dict[str, Any]], corpora: list[str], kinds: list[str]) -> str:
    """Markdown table: one row per edit kind, systems side by side in each cell."""
    systems = " / ".join(summaries)
    head = f"| recall ({systems}) | " + " | ".join(corpora) + " | all |"
    lines = [head, "|" + "---|" * (len(corpora) + 2)]
    for kind in kinds:
        cells = [_cell(summaries, kind, c) for c in corpora] + [_cell(summaries, kind, None)]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    first = next(iter(summaries.values()))["recall"]
    counts = [str(sum(first.get(k, {}).get(c, {"n": 0})["n"] for k in kinds)) for c in corpora]
    lines.append("| positives scored (first system) | " + " | ".join(counts) + " | |")
    fp_cells = []
    for c in [*corpora, None]:
        parts = []
        for s in summaries.values():
            fp = s["false_positives"]
            cell = fp["per_corpus"].get(c, {"n": 0, "hit": 0}) if c else {"n": fp["n"], "hit": fp["flagged"]}
            parts.append(f"{cell['hit']}/{cell['n']}")
        fp_cells.append(" / ".join(parts))
    lines.append("| false positives (flagged/negatives) | " + " | ".join(fp_cells) + " |")
    return "\n".join(lines)
