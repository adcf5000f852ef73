"""The load benchmark's pure parts: targets judged met or missed, growth
between sizes, and the archive written by worker processes (the same file
as one process writes). Hand-made numbers and sources: nothing is timed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.load.scale_corpus import Source, cached_inputs, documents, write_archive
from benchmarks.load.targets import growth, judge

MB = 1_000_000


def size(paragraphs: int, p50: float, p99: float, rps: float, private_mb: list[float]) -> dict[str, Any]:
    return {
        "paragraphs": paragraphs,
        "cli_ingest": {"paragraphs_per_s": 52_000},
        "disk": {"beyond_text_per_paragraph": 310.0},
        "paradup": {
            "sequential": {"p50_ms": p50, "p99_ms": p99},
            "rps": rps,
            "startup_s": 0.9,
            "rss": [{"RssAnon": m * MB, "VmRSS": 3 * m * MB} for m in private_mb],
        },
    }


def test_each_target_is_met_or_missed_and_an_unmeasured_one_says_so() -> None:
    verdicts = {t["target"]: t for t in judge(size(1_000_000, 2.5, 12.0, 1200.0, [120.0, 510.0]))}
    assert verdicts["/check p50, one connection"]["met"] is True
    assert verdicts["/check p99, one connection"]["met"] is False
    assert verdicts["checks/s, 2 workers (wrk)"]["met"] is True
    assert verdicts["CLI ingest"]["met"] is True
    assert verdicts["start-up to the first /check"]["met"] is True
    # the worst worker decides, and private memory (RssAnon), not VmRSS
    assert verdicts["private memory per worker (RssAnon)"]["value"] == 510.0
    assert verdicts["private memory per worker (RssAnon)"]["met"] is False
    assert verdicts["disk beyond the text"]["met"] is False
    assert verdicts["HTTP batch ingest"] == {
        "target": "HTTP batch ingest",
        "goal": ">= 20,000 paragraphs/s",
        "value": None,
        "unit": "paragraphs/s",
        "met": None,
    }


def test_growth_is_the_checks_per_second_drop_and_the_p99_growth_per_step() -> None:
    steps = growth([size(10**6, 2.0, 8.0, 1300.0, [100]), size(10**7, 2.4, 13.0, 1100.0, [100])])
    assert steps == [
        {
            "from": 10**6,
            "to": 10**7,
            "checks_per_s_drop": round(1300 / 1100, 3),
            "checks_per_s_drop_met": True,
            "p99_growth": 1.625,
            "p99_growth_met": False,
        }
    ]
    assert growth([size(10**6, 2.0, 8.0, 1300.0, [100])]) == []


SOURCES = [
    Source(
        f"doc{d}",
        tuple(f"paragraph {p} of document {d} with some words to shuffle" for p in range(1 + d % 4)),
    )
    for d in range(30)
]


def test_the_archive_written_by_worker_processes_is_the_single_process_one(tmp_path: Path) -> None:
    paragraphs = 7 * sum(len(s.paragraphs) for s in SOURCES) + 5  # several copies, the last one cut
    counts = write_archive(SOURCES, paragraphs, tmp_path / "a.jsonl", processes=2)
    expected = [
        json.dumps({"id": doc_id, "text": "\n\n".join(texts)}, ensure_ascii=False) + "\n"
        for doc_id, texts in documents(SOURCES, paragraphs)
    ]
    assert (tmp_path / "a.jsonl").read_text(encoding="utf-8") == "".join(expected)
    assert counts[0] == len(expected) and counts[1] == paragraphs


def test_cached_inputs_are_reused_and_rebuilt_when_their_key_changes(tmp_path: Path) -> None:
    corpora, cache = tmp_path / "corpora", tmp_path / "cache"
    corpora.mkdir()
    archive, bodies, first = cached_inputs(SOURCES, corpora, 200, 5, cache)
    assert first["cached"] is False and first["paragraphs"] == 200
    archive.write_text("kept\n", encoding="utf-8")  # a reused file is not written again
    _, _, again = cached_inputs(SOURCES, corpora, 200, 5, cache)
    assert again["cached"] is True and archive.read_text(encoding="utf-8") == "kept\n"
    _, _, other = cached_inputs(SOURCES, corpora, 200, 6, cache)  # another article count
    assert other["cached"] is False and archive.read_text(encoding="utf-8") != "kept\n"
    assert len(bodies.read_text(encoding="utf-8").splitlines()) == 6
