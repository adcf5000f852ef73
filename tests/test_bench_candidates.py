"""benchmarks/load/candidates.py counts what a check verifies, on a real store."""

from __future__ import annotations

import json
from pathlib import Path

from app.engine import DocumentInput, Service
from app.settings import Settings
from benchmarks.load.candidates import BINS, main
from tests.articles import ARCHIVED_EN, UNRELATED_EN


def test_candidates_are_counted_per_check_with_their_jaccard(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/archive.db"
    service = Service.open(Settings(store=url))
    service.ingest([DocumentInput("harbour", ARCHIVED_EN)])
    service.close()
    first = ARCHIVED_EN.split("\n\n")[0]
    bodies = tmp_path / "bodies.jsonl"
    bodies.write_text(json.dumps({"text": first}) + "\n" + json.dumps({"text": UNRELATED_EN}) + "\n")
    out, picture = tmp_path / "out.json", tmp_path / "out.svg"
    assert (
        main(["--store", f"one={url}", "--bodies", str(bodies), "--out", str(out), "--svg", str(picture)])
        == 0
    )
    result = json.loads(out.read_text())["results"]["one"]
    assert result["checks"] == 2 and result["bands"] == "27x3"
    # the archived paragraph itself is verified (Jaccard 1: the top decile) and passes
    assert result["jaccard_deciles"][BINS - 1] >= 1 and result["passing"] >= 1
    assert sum(result["jaccard_deciles"]) == result["candidates"]
    assert result["per_check"]["max"] >= 1
    drawn = picture.read_text()
    assert drawn.startswith("<svg") and drawn.count("<rect") == BINS + 1  # the bars and the legend's swatch
    assert "one, 27x3 bands" in drawn
    # the engine is left as it was: a check after the measurement still runs
    service = Service.open(Settings(store=url))
    try:
        assert service.check(first)[0].matches
    finally:
        service.close()


def test_absent_bodies_are_named(tmp_path: Path) -> None:
    assert main(["--store", "x=sqlite:///nowhere.db", "--bodies", str(tmp_path / "absent.jsonl")]) == 2
