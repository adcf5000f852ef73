"""The "Scale" section of benchmarks/RESULTS.md, rendered from bench_load's JSON
(and the two-version section, rendered by report_ab.py).

Only the text between the section's markers is replaced: other sections of
the file belong to other benchmarks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.load.report_ab import machine_sentence, render_ab

BEGIN = "<!-- scale:begin (benchmarks/load/bench_load.py) -->"
END = "<!-- scale:end -->"
NOTES = Path(__file__).with_name("notes.md")
# Two versions side by side (--baseline-ref): a section of its own, so that
# the single-version "Scale" section stays as its last run left it.
AB_BEGIN = "<!-- scale-ab:begin (benchmarks/load/bench_load.py --baseline-ref) -->"
AB_END = "<!-- scale-ab:end -->"


def _mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if a and b else "-"


def _httpx(figures: dict[str, Any]) -> str:
    """The httpx client's figures beside http.client's, in reports that have both."""
    other = figures.get("sequential_httpx")
    return f"; {_ms(other)}" if other else ""


def _ms(figures: dict[str, Any] | None) -> str:
    if not figures:
        return "-"
    return f"{figures.get('p50_ms', float('nan')):.2f} / {figures.get('p99_ms', float('nan')):.2f}"


def _rate(size: dict[str, Any], key: str) -> str:
    figure = size.get(key) or {}
    return f"{figure['paragraphs_per_s']:,}" if "paragraphs_per_s" in figure else "-"


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "not measured"
    return f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:.2f} {unit}"


def render(report: dict[str, Any]) -> str:
    m, s, w = report["machine"], report["settings"], report["wrk"]
    lines = [
        "## Scale",
        "",
        f"{machine_sentence(m)} Fingerprints: {s['num_perm']} permutations, "
        f"LSH threshold {s['lsh_threshold']} "
        f"({s['bands']} bands x rows), {s['shingle_size']}-word shingles.",
        "",
        f"Command: `{m['command']}`. wrk: {w['threads']} thread, {w['connections']} connections, "
        f"{w['seconds']} s per run, loopback, on the same 2 cores as the servers.",
        "",
        "| paragraphs | CLI ingest /s | HTTP ingest /s | disk B/para beyond text | start-up s "
        "| one connection p50 / p99 ms (http.client; httpx) | checks/s (wrk) | wrk p50 / p99 ms "
        "| server p50 / p99 ms | errors "
        "| worker RssAnon (VmRSS) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in report["sizes"]:
        p = size["paradup"]
        rss = ", ".join(f"{_mb(r['RssAnon'])} ({_mb(r['VmRSS'])})" for r in p["rss"])
        errors = p["errors"] + sum(p.get(k, {}).get("errors", 0) for k in ("sequential", "sequential_httpx"))
        lines.append(
            f"| {size['paragraphs']:,} | {_rate(size, 'cli_ingest')} | {_rate(size, 'http_ingest')} "
            f"| {size['disk']['beyond_text_per_paragraph']:.0f} | {p['startup_s']:.2f} "
            f"| {_ms(p.get('sequential'))}{_httpx(p)} | {p['rps']:,.0f} | {_ms(p)} | {_ms(p.get('server'))} "
            f"| {errors} | {rss} |"
        )
    if any("targets" in size for size in report["sizes"]):
        judged = [size for size in report["sizes"] if "targets" in size]
        lines += [
            "",
            "Targets (issue 15):",
            "",
            "| target | goal | " + " | ".join(f"{size['paragraphs']:,}" for size in judged) + " |",
            "|---|---|" + "---|" * len(judged),
        ]
        for row, target in enumerate(judged[0]["targets"]):
            cells = []
            for size in judged:
                t = size["targets"][row]
                verdict = "" if t["met"] is None else (" met" if t["met"] else " **missed**")
                cells.append(_value(t["value"], t["unit"]) + verdict)
            lines.append(f"| {target['target']} | {target['goal']} | " + " | ".join(cells) + " |")
        for g in report.get("growth", []):
            drop, grown = g["checks_per_s_drop"], g["p99_growth"]
            lines.append(
                f"| growth {g['from']:,} -> {g['to']:,}: checks/s drop, one-connection p99 growth "
                f"| <= 1.3x, <= 1.5x | {'-' if drop is None else f'{drop:.2f}x'}"
                f"{'' if drop is None else (' met' if g['checks_per_s_drop_met'] else ' **missed**')}, "
                f"{'-' if grown is None else f'{grown:.2f}x'}"
                f"{'' if grown is None else (' met' if g['p99_growth_met'] else ' **missed**')} |"
                + " |"
                * (len(judged) - 1)
            )
    lines += [
        "",
        "Side by side with the plain datasketch service (benchmarks/baseline_datasketch.py: one process, "
        "in-memory MinHashLSH, no verification), same articles, same wrk load:",
        "",
        "| paragraphs | service | one connection p50 / p99 ms (http.client; httpx) | checks/s | errors "
        "| RSS | memory B/para "
        "| ingest /s (HTTP) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in report["sizes"]:
        p, d = size["paradup"], size.get("datasketch")
        total_rss = sum(r["VmRSS"] for r in p["rss"])
        lines.append(
            f"| {size['paragraphs']:,} | paradup (2 workers) | {_ms(p.get('sequential') or p)}{_httpx(p)} "
            f"| {p['rps']:,.0f} | {p['errors']} | {_mb(total_rss)} (2 workers) "
            f"| {size['disk']['bytes_per_paragraph']:.0f} on disk "
            f"| {_rate(size, 'http_ingest')} |"
        )
        if d is None:
            lines.append(f"| {size['paragraphs']:,} | datasketch | not run (above --baseline-max) |||||| ")
            continue
        dseq, pseq = d.get("sequential") or d, p.get("sequential") or p
        lines.append(
            f"| {size['paragraphs']:,} | datasketch (1 process) | {_ms(dseq)}{_httpx(d)} "
            f"| {d['rps']:,.0f} | {d['errors']} | {_mb(d['rss'][0]['VmRSS'])} "
            f"| {d['rss_growth_per_paragraph']:,} in RAM | {d['ingest']['paragraphs_per_s']:,} |"
        )
        lines.append(
            f"| | ratio datasketch / paradup | {_ratio(dseq['p50_ms'], pseq['p50_ms'])} / "
            f"{_ratio(dseq['p99_ms'], pseq['p99_ms'])} | {_ratio(p['rps'], d['rps'])} fewer | | | "
            f"{_ratio(d['rss_growth_per_paragraph'], size['disk']['bytes_per_paragraph'])} | |"
        )
    lines.append("")
    if NOTES.exists():
        lines.append(NOTES.read_text(encoding="utf-8").strip())
    return "\n".join(lines).rstrip() + "\n"


def replace_section(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with what lies between the markers replaced by ``body``, or
    the marked section appended when the markers are absent."""
    section = f"{begin}\n{body}{end}\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        return head + section + rest.split(end, 1)[1].lstrip("\n")
    return text.rstrip("\n") + "\n\n" + section


def _update(path: Path, begin: str, end: str, body: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    path.write_text(replace_section(text, begin, end, body), encoding="utf-8")


def update_results(path: Path, report: dict[str, Any]) -> None:
    _update(path, BEGIN, END, render(report))


def update_ab_results(path: Path, report: dict[str, Any]) -> None:
    _update(path, AB_BEGIN, AB_END, render_ab(report))


if __name__ == "__main__":
    loaded = json.loads(Path(sys.argv[1]).read_text())
    (update_ab_results if "versions" in loaded else update_results)(Path(sys.argv[2]), loaded)
