"""The two-version section of benchmarks/RESULTS.md (``bench_load --baseline-ref``),
rendered from bench_load's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.load.ab import AFTER, BEFORE

# metric -> (label, decimals)
ROUND_LABELS = {
    "sequential_p50_ms": ("/check p50 ms, one connection (http.client)", 2),
    "sequential_p99_ms": ("/check p99 ms, one connection (http.client)", 2),
    "sequential_httpx_p50_ms": ("/check p50 ms, one connection (httpx)", 2),
    "sequential_httpx_p99_ms": ("/check p99 ms, one connection (httpx)", 2),
    "checks_per_s": ("checks/s, 2 workers (wrk)", 0),
    "load_p99_ms": ("p99 ms under wrk", 2),
    "startup_s": ("start-up s to the first /check", 2),
}


def machine_sentence(m: Mapping[str, Any]) -> str:
    return f"Machine: {m['nproc']} cores ({m['cpu']}), Python {m['python']}, {m['date']}."


def _version(v: Mapping[str, Any]) -> str:
    dirty = " + uncommitted changes" if v.get("dirty") else ""
    settings = "".join(f", served with {k}={value}" for k, value in v.get("settings", {}).items())
    return f"`{v['ref']}` = {v['commit'][:10]}{dirty} ({v['subject']}){settings}"


def _ratio(after: float, before: float) -> str:
    return f"{after / before:.2f}x" if before else "-"


def _num(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def _size_rows(size: Mapping[str, Any]) -> list[str]:
    rows: list[str] = []
    first = f"{size['paragraphs']:,}"
    for metric, (label, decimals) in ROUND_LABELS.items():
        figure = size["summary"].get(metric)
        if figure is None:
            continue
        spread = f"{figure['ratio_min']:.2f}-{figure['ratio_max']:.2f}"
        rows.append(
            f"| {first} | {label} | {_num(figure[BEFORE], decimals)} | {_num(figure[AFTER], decimals)} "
            f"| {figure['ratio']:.2f}x ({spread}) |"
        )
        first = ""
    versions = size["versions"]
    ingests = len(versions[BEFORE]["cli_ingest"].get("runs", [None]))
    once = {
        f"CLI ingest paragraphs/s ({'one run' if ingests == 1 else f'median of {ingests} runs'} each)": (
            versions[BEFORE]["cli_ingest"]["paragraphs_per_s"],
            versions[AFTER]["cli_ingest"]["paragraphs_per_s"],
        ),
        "disk B/paragraph beyond the text": (
            versions[BEFORE]["disk"]["beyond_text_per_paragraph"],
            versions[AFTER]["disk"]["beyond_text_per_paragraph"],
        ),
    }
    for label, (before, after) in once.items():
        rows.append(f"| {first} | {label} | {_num(before, 0)} | {_num(after, 0)} | {_ratio(after, before)} |")
        first = ""
    return rows


def _table_rows(size: Mapping[str, Any]) -> list[str]:
    before = size["versions"][BEFORE]["disk"]["tables_per_paragraph"]
    after = size["versions"][AFTER]["disk"]["tables_per_paragraph"]
    names = [n for n in sorted({*before, *after}) if n not in ("total", "beyond_text")]
    rows = []
    first = f"{size['paragraphs']:,}"
    for name in [*names, "total", "beyond_text"]:
        shown = {"total": "all (dbstat)", "beyond_text": "all minus the text"}.get(name, f"`{name}`")
        b, a = before.get(name), after.get(name)
        rows.append(
            f"| {first} | {shown} | {'-' if b is None else _num(b, 1)} | {'-' if a is None else _num(a, 1)} |"
        )
        first = ""
    return rows


def render_ab(report: Mapping[str, Any]) -> str:
    m, w, v = report["machine"], report["wrk"], report["versions"]
    lines = [
        "## Scale, two versions side by side",
        "",
        f"{machine_sentence(m)} Command: `{m['command']}`.",
        "",
        f"Before: {_version(v[BEFORE])}. After: {_version(v[AFTER])}.",
        "",
        f"{report['rounds']} rounds per version, alternating (the version going first flips every "
        "round); in each, a fresh `paradup serve --workers 2` on the version's own store (same archive, "
        f"same check articles: 10 paragraphs, 5 archived and 5 unseen), {report['sequential_checks']} "
        f"sequential checks on one connection, then wrk ({w['threads']} thread, {w['connections']} "
        f"connections, {w['seconds']} s). Figures are medians over rounds; the ratio is the median of "
        "the per-round ratios after / before, with their range.",
        "",
        "| paragraphs | figure | before | after | after / before |",
        "|---|---|---|---|---|",
    ]
    for size in report["sizes"]:
        lines += _size_rows(size)
    lines += [
        "",
        "Bytes per paragraph of each table and index (SQLite dbstat, after the CLI ingest):",
        "",
        "| paragraphs | table or index | before | after |",
        "|---|---|---|---|",
    ]
    for size in report["sizes"]:
        lines += _table_rows(size)
    return "\n".join(lines) + "\n"
