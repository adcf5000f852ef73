"""The Redis benchmark's targets (benchmarks/redis/targets.py), judged on
figures made up here: each is met or missed by its own figure."""

from __future__ import annotations

from typing import Any

from benchmarks.redis.targets import targets


def result(http_ingest: int, in_process: int, cluster_http_ingest: int) -> dict[str, Any]:
    spread = {"masters": {"1": {"key_share": 0.34, "memory_share": 0.33}}, "even_within_5_points": True}
    return {
        "ingest": {"paragraphs_per_s": in_process, "bytes_per_paragraph_beyond_text": 450.0},
        "http_ingest": {"paragraphs_per_s": http_ingest},
        "http_check": {"checks_per_s": 300.0},
        "cluster_over_standalone": {
            "checks_per_s": 0.6,
            "http_ingest_paragraphs_per_s": round(cluster_http_ingest / http_ingest, 3),
            "ingest_paragraphs_per_s": 1.1,
            "p99_ms": 1.5,
        },
        "cluster": {"ingest": {"spread": spread, "bytes_per_paragraph_beyond_text": 460.0}},
    }


def status(found: list[dict[str, Any]]) -> dict[str, str]:
    return {t["target"]: t["status"] for t in found if "target" in t}


def test_the_two_worker_http_ingest_and_the_one_thread_ingest_are_judged_apart() -> None:
    judged = status(targets(result(http_ingest=23_000, in_process=15_000, cluster_http_ingest=30_000)))
    assert judged["standalone HTTP ingest paragraphs/s, 2 workers"] == "met"
    assert judged["standalone in-process ingest paragraphs/s, one thread"] == "missed"
    assert judged["cluster / standalone http_ingest_paragraphs_per_s"] == "met"
    assert judged["standalone checks/s"] == "missed"
    assert judged["cluster / standalone p99"] == "missed"
    slow = status(targets(result(http_ingest=19_000, in_process=21_000, cluster_http_ingest=15_000)))
    assert slow["standalone HTTP ingest paragraphs/s, 2 workers"] == "missed"
    assert slow["standalone in-process ingest paragraphs/s, one thread"] == "met"
    assert slow["cluster / standalone http_ingest_paragraphs_per_s"] == "missed"
