"""The pure parts of the two-version load benchmark (bench_load --baseline-ref):
round order, medians and ratios, per-table bytes, the rendered section.
Hand-made numbers only: nothing here is timed."""

from __future__ import annotations

import argparse
import contextlib
from contextlib import closing
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from app.store.sqlite_driver import sqlite3
from benchmarks.load.ab import AFTER, BEFORE, bytes_beyond_text, round_order, summarise
from benchmarks.load.bench_load_ab import _one_code, compared, table_bytes
from benchmarks.load.report import AB_BEGIN, AB_END, BEGIN, END, replace_section
from benchmarks.load.report_ab import render_ab
from benchmarks.load.resident_plot import series as resident_series
from benchmarks.load.resident_plot import svg as resident_svg


def test_rounds_alternate_and_the_first_version_flips_every_round() -> None:
    assert round_order(4) == [
        (0, BEFORE),
        (0, AFTER),
        (1, AFTER),
        (1, BEFORE),
        (2, BEFORE),
        (2, AFTER),
        (3, AFTER),
        (3, BEFORE),
    ]
    assert round_order(0) == []


def _round(number: int, label: str, p99: float, rps: float) -> dict[str, Any]:
    return {"round": number, "label": label, "sequential_p99_ms": p99, "checks_per_s": rps}


def test_summary_is_medians_over_rounds_and_the_median_of_per_round_ratios() -> None:
    rounds = [
        _round(0, BEFORE, 10.0, 200.0),
        _round(0, AFTER, 12.0, 220.0),
        _round(1, AFTER, 30.0, 150.0),  # a noisy round for both: the ratio stays near the others
        _round(1, BEFORE, 20.0, 100.0),
        _round(2, BEFORE, 11.0, 300.0),
        _round(2, AFTER, 11.0, 330.0),
    ]
    summary = summarise(rounds)
    p99 = summary["sequential_p99_ms"]
    assert p99[BEFORE] == 11.0
    assert p99[AFTER] == 12.0
    assert p99["ratio"] == pytest.approx(1.2)  # ratios 1.2, 1.5, 1.0
    assert p99["ratio_min"] == pytest.approx(1.0)
    assert p99["ratio_max"] == pytest.approx(1.5)
    assert p99["rounds"] == 3
    rps = summary["checks_per_s"]
    assert (rps[BEFORE], rps[AFTER]) == (200.0, 220.0)
    assert rps["ratio"] == pytest.approx(1.1)  # 1.1, 1.5, 1.1
    # Figures no round measured are left out rather than reported as zero.
    assert "startup_s" not in summary


def test_a_round_missing_one_version_is_left_out_of_the_summary() -> None:
    rounds = [
        _round(0, BEFORE, 10.0, 100.0),
        _round(0, AFTER, 20.0, 100.0),
        _round(1, AFTER, 1000.0, 1.0),  # its "before" never ran (the run was cut short)
    ]
    summary = summarise(rounds)
    assert summary["sequential_p99_ms"][AFTER] == 20.0
    assert summary["sequential_p99_ms"]["ratio"] == pytest.approx(2.0)
    assert summary["checks_per_s"]["rounds"] == 1


def test_bytes_per_paragraph_of_each_table_and_beyond_the_text() -> None:
    tables = {"bands": 3000, "paragraphs": 5000, "passages": 2000}
    out = bytes_beyond_text(tables, text_bytes=4000, paragraphs=10)
    assert out == {
        "bands": 300.0,
        "paragraphs": 500.0,
        "passages": 200.0,
        "total": 1000.0,
        "beyond_text": 600.0,
    }
    assert bytes_beyond_text(tables, 0, 0) == {}


def test_table_bytes_names_every_table_and_index_of_a_real_store(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    with closing(sqlite3.connect(store)) as conn:
        conn.execute("CREATE TABLE postings (key INTEGER PRIMARY KEY, refs BLOB)")
        conn.execute("CREATE TABLE small (x TEXT UNIQUE)")
        conn.executemany("INSERT INTO postings VALUES (?, ?)", ((i, bytes(200)) for i in range(2000)))
        conn.commit()
    sizes = table_bytes(store)
    assert {"postings", "small", "sqlite_autoindex_small_1"} <= set(sizes)
    assert sizes["postings"] > 2000 * 200 > sizes["small"]
    assert sum(sizes.values()) <= store.stat().st_size


def _size(paragraphs: int) -> dict[str, Any]:
    def version(rate: int, beyond: float, tables: dict[str, float]) -> dict[str, Any]:
        return {
            "cli_ingest": {"paragraphs_per_s": rate},
            "disk": {"beyond_text_per_paragraph": beyond, "tables_per_paragraph": tables},
        }

    return {
        "paragraphs": paragraphs,
        "versions": {
            BEFORE: version(20_000, 390.0, {"bands": 300.0, "total": 700.0, "beyond_text": 390.0}),
            AFTER: version(
                16_000, 468.0, {"bands": 300.0, "postings": 78.0, "total": 778.0, "beyond_text": 468.0}
            ),
        },
        "summary": {
            "sequential_p99_ms": {
                BEFORE: 10.0,
                AFTER: 12.5,
                "ratio": 1.25,
                "ratio_min": 1.1,
                "ratio_max": 1.4,
            },
            "checks_per_s": {BEFORE: 350.0, AFTER: 315.0, "ratio": 0.9, "ratio_min": 0.85, "ratio_max": 0.97},
        },
    }


REPORT: dict[str, Any] = {
    "machine": {"nproc": 2, "cpu": "AMD EPYC", "python": "3.11.7", "date": "today", "command": "bench"},
    "wrk": {"threads": 1, "connections": 16, "seconds": 20},
    "versions": {
        BEFORE: {"ref": "main", "commit": "a" * 40, "subject": "Old", "dirty": False},
        AFTER: {"ref": "HEAD", "commit": "b" * 40, "subject": "New", "dirty": True},
    },
    "rounds": 5,
    "sequential_checks": 500,
    "sizes": [_size(1_000_000)],
}


def test_rendered_table_gives_both_versions_and_the_ratio_per_size() -> None:
    text = render_ab(REPORT)
    row = "| 1,000,000 | /check p99 ms, one connection (http.client) | 10.00 | 12.50 | 1.25x (1.10-1.40) |"
    assert row in text
    assert "|  | checks/s, 2 workers (wrk) | 350 | 315 | 0.90x (0.85-0.97) |" in text
    assert "|  | CLI ingest paragraphs/s (one run each) | 20,000 | 16,000 | 0.80x |" in text
    assert "|  | disk B/paragraph beyond the text | 390 | 468 | 1.20x |" in text
    # A table only one version has shows a dash for the other.
    assert "|  | `postings` | - | 78.0 |" in text
    assert (
        "Before: `main` = aaaaaaaaaa (Old). After: `HEAD` = bbbbbbbbbb + uncommitted changes (New)." in text
    )
    # No row for a figure the summary lacks.
    assert "start-up" not in text


def test_the_two_version_section_leaves_the_scale_section_as_it_is() -> None:
    scale = f"{BEGIN}\n## Scale\n\n| a | b |\n{END}\n"
    text = f"# Benchmark results\n\n{scale}\n## Hashing throughput\n\nfigures\n"
    once = replace_section(text, AB_BEGIN, AB_END, "first\n")
    assert scale in once and "## Hashing throughput\n\nfigures\n" in once
    assert f"{AB_BEGIN}\nfirst\n{AB_END}\n" in once
    again = replace_section(once, AB_BEGIN, AB_END, "second\n")
    assert again == once.replace("first\n", "second\n")


def test_the_ingest_row_says_how_many_runs_its_median_is_of() -> None:
    size = _size(1_000)
    for label in (BEFORE, AFTER):
        size["versions"][label]["cli_ingest"]["runs"] = [{}, {}, {}]
    text = render_ab({**REPORT, "sizes": [size]})
    assert "|  | CLI ingest paragraphs/s (median of 3 runs each) | 20,000 | 16,000 | 0.80x |" in text


def test_resident_ab_compares_one_checkout_one_setting_apart_on_one_store(tmp_path: Path) -> None:
    args = argparse.Namespace(resident_ab="all", baseline_ref=None)
    with contextlib.ExitStack() as stack:
        versions = compared(args, stack, tmp_path)
    before, after = versions[BEFORE], versions[AFTER]
    assert (before.label, after.label) == (BEFORE, AFTER)
    assert before.root == after.root and before.commit == after.commit
    assert before.settings == {"PARADUP_RESIDENT": "off"}
    assert after.settings == {"PARADUP_RESIDENT": "all"}
    assert _one_code(versions)  # one ingest, both served from its store
    assert not list(tmp_path.iterdir())  # no worktree checked out


def test_the_resident_chart_draws_each_rounds_p50_and_p99_of_both_settings() -> None:
    def entry(number: int, label: str, p50: float, p99: float) -> dict[str, Any]:
        return {"round": number, "label": label, "sequential_p50_ms": p50, "sequential_p99_ms": p99}

    report = {
        "idle_s": 120,
        "versions": {
            BEFORE: {"settings": {"PARADUP_RESIDENT": "off"}},
            AFTER: {"settings": {"PARADUP_RESIDENT": "all"}},
        },
        "sizes": [
            {
                "paragraphs": 10_000_000,
                "rounds": [entry(0, BEFORE, 2.7, 18.3), entry(0, AFTER, 2.1, 4.9), entry(1, AFTER, 2.0, 4.5)],
            }
        ],
    }
    groups, bars = resident_series(report)
    assert groups == ["round 0", "round 1"]
    values = {key: v for _, key, v in bars}
    assert values[(BEFORE, "p99")] == [18.3, 0.0]  # round 1 has no "before": drawn empty, not made up
    assert values[(AFTER, "p50")] == [2.1, 2.0]
    drawing = ElementTree.fromstring(resident_svg(report))
    labels = [t.text for t in drawing.iter("{http://www.w3.org/2000/svg}text")]
    assert "18.3" in labels and "4.5" in labels
    assert "PARADUP_RESIDENT=all, p99" in labels
