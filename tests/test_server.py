"""Real `paradup serve` processes: persistence across restarts and several
workers on one store."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.articles import ARCHIVED_EN, UNRELATED_EN
from tests.conftest import Server

# Real servers (uvicorn processes, Chromium): `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow

COPIED = ARCHIVED_EN.split("\n\n")[2]


def test_ingest_check_delete_and_restart(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/persist.db"
    with Server(store) as server:
        r = httpx.post(server.url + "/ingest", json={"id": "harbour", "text": ARCHIVED_EN}, timeout=30)
        assert r.json()["documents"][0]["status"] == "created"
        found = httpx.post(server.url + "/check", json={"text": COPIED}, timeout=30).json()
        assert found["paragraphs"][0]["matches"][0]["document_id"] == "harbour"

    # a new process on the same file: no rebuild, same answers
    with Server(store) as server:
        stats = httpx.get(server.url + "/stats", timeout=30).json()
        assert (stats["documents"], stats["paragraphs"]) == (1, 3)
        found = httpx.post(server.url + "/check", json={"text": COPIED}, timeout=30).json()
        assert found["paragraphs"][0]["matches"][0]["document_id"] == "harbour"
        assert httpx.delete(server.url + "/documents/harbour", timeout=30).status_code == 204
        gone = httpx.post(server.url + "/check", json={"text": COPIED}, timeout=30).json()
        assert gone["duplicate"] is False

    with Server(store) as server:
        assert httpx.get(server.url + "/documents/harbour", timeout=30).status_code == 404


def test_two_workers_see_each_others_writes(tmp_path: Path) -> None:
    with Server(f"sqlite:///{tmp_path}/shared.db", workers=2) as server:
        workers_seen: set[str] = set()
        cross_reads = 0
        for i in range(60):
            doc_id = f"doc-{i}"
            text = f"{UNRELATED_EN}\n\nEdition number {i} of the programme notes, printed for the season."
            # a new connection per request lets the kernel hand it to either worker
            with httpx.Client(base_url=server.url, timeout=30) as c:
                wrote = c.post("/ingest", json={"id": doc_id, "text": text})
            assert wrote.status_code == 200
            writer = wrote.headers["x-served-by"]
            with httpx.Client(base_url=server.url, timeout=30) as c:
                read = c.get(f"/documents/{doc_id}")
            assert read.status_code == 200, f"{doc_id} written by {writer} not visible"
            reader = read.headers["x-served-by"]
            workers_seen |= {writer, reader}
            cross_reads += writer != reader
        assert len(workers_seen) == 2
        assert cross_reads > 0
        final = httpx.get(server.url + "/stats", timeout=30).json()
        assert final["documents"] == 60
