"""Faults: a serving process SIGKILLed in the middle of bulk ingest, over and
over, and parallel writers, deleters and checkers across several workers.

Nothing here waits for a fixed time: the kill is triggered by progress
(a number of acknowledged batches), and readiness is polled.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from app.store.sqlite_driver import sqlite3
from tests.conftest import Server

# Real servers (uvicorn processes, Chromium): `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow

TRIALS = 6
BATCH = 25
# The generated documents share most of their words: with the boilerplate
# rule on, their paragraphs would be reported as boilerplate, not matches.
NO_BOILERPLATE = {"PARADUP_BOILERPLATE_MIN_DOCUMENTS": "0"}


def paragraph(trial: int, batch: int, doc: int, n: int) -> str:
    return (
        f"Trial {trial} batch {batch} document {doc} paragraph {n}: the committee reviewed the "
        f"figures for district {doc * 7 + n} and asked for a second count before the vote."
    )


def make_batch(trial: int, batch: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"t{trial}-b{batch}-d{d}",
            "text": "\n\n".join(paragraph(trial, batch, d, n) for n in range(3)),
            "metadata": {"trial": trial, "batch": batch},
        }
        for d in range(BATCH)
    ]


def ingest_until_killed(url: str, trial: int, acked: list[int], started: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        batch = 0
        while True:
            try:
                response = client.post("/ingest", json={"documents": make_batch(trial, batch)})
            except httpx.TransportError:
                return  # the server was killed
            started.set()
            assert response.status_code == 200, response.text
            acked.append(batch)
            batch += 1


def test_sigkill_during_bulk_ingest_loses_no_acknowledged_document(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/kill.db"
    expected: dict[str, list[str]] = {}
    maybe: dict[str, list[str]] = {}  # the batch in flight at the kill: all or nothing
    for trial in range(TRIALS):
        server = Server(store, env=NO_BOILERPLATE).start()
        acked: list[int] = []
        started = threading.Event()
        writer = threading.Thread(target=ingest_until_killed, args=(server.url, trial, acked, started))
        writer.start()
        # Kill after a growing number of acknowledged batches, with the next
        # batch already on its way.
        while len(acked) < trial + 1 and writer.is_alive():
            started.wait(1)
        assert server.proc is not None
        server.proc.kill()
        server.proc.wait()
        server.stop()  # closes its readiness client, whose socket would leak
        writer.join()
        assert len(acked) >= trial + 1
        for batch in acked:
            for doc in make_batch(trial, batch):
                expected[str(doc["id"])] = str(doc["text"]).split("\n\n")
        for doc in make_batch(trial, len(acked)):
            maybe[str(doc["id"])] = str(doc["text"]).split("\n\n")

    db = tmp_path / "kill.db"
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Server(store, env=NO_BOILERPLATE) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        for doc_id, paragraphs in expected.items():
            got = client.get(f"/documents/{doc_id}")
            assert got.status_code == 200, f"acknowledged {doc_id} lost"
            assert [p["text"] for p in got.json()["paragraphs"]] == paragraphs
        present_maybe = {d for d in maybe if client.get(f"/documents/{d}").status_code == 200}
        batches_in_flight = {d.rsplit("-d", 1)[0] for d in maybe}
        for prefix in batches_in_flight:
            members = {d for d in maybe if d.startswith(prefix + "-d")}
            assert members <= present_maybe or not (members & present_maybe), f"half of {prefix} stored"
        for doc_id in present_maybe:
            assert [p["text"] for p in client.get(f"/documents/{doc_id}").json()["paragraphs"]] == maybe[
                doc_id
            ]
        stats = client.get("/stats").json()
        total = len(expected) + len(present_maybe)
        assert (stats["documents"], stats["paragraphs"]) == (total, 3 * total)
        # every acknowledged paragraph is findable, not just stored
        sample = list(expected.items())[:: max(1, len(expected) // 20)]
        for doc_id, paragraphs in sample:
            body = client.post("/check", json={"text": paragraphs[1]}).json()
            assert doc_id in {m["document_id"] for m in body["paragraphs"][0]["matches"]}


def test_parallel_ingest_delete_and_check_across_workers(tmp_path: Path) -> None:
    with Server(f"sqlite:///{tmp_path}/busy.db", workers=2, env=NO_BOILERPLATE) as server:

        def text(worker: int, i: int) -> str:
            return "\n\n".join(
                f"Worker {worker} item {i} part {n}: residents of the valley met the water board "
                f"about the reservoir level and the pipes replaced in sector {worker}{i}{n}."
                for n in range(2)
            )

        def writer(worker: int) -> tuple[set[str], set[str], list[int]]:
            kept: set[str] = set()
            deleted: set[str] = set()
            statuses: list[int] = []
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for i in range(25):
                    doc_id = f"w{worker}-{i}"
                    r = client.post("/ingest", json={"id": doc_id, "text": text(worker, i)})
                    statuses.append(r.status_code)
                    kept.add(doc_id)
                    if i % 3 == 0:
                        statuses.append(client.delete(f"/documents/{doc_id}").status_code)
                        kept.discard(doc_id)
                        deleted.add(doc_id)
                    if i % 5 == 0:  # re-ingest: unchanged
                        again = client.post("/ingest", json={"id": doc_id, "text": text(worker, i)})
                        statuses.append(again.status_code)
                        kept.add(doc_id)
                        deleted.discard(doc_id)
            return kept, deleted, statuses

        def checker(worker: int) -> list[int]:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                return [
                    client.post("/check", json={"text": text(worker % 4, i)}).status_code for i in range(25)
                ]

        with ThreadPoolExecutor(max_workers=8) as pool:
            writers = [pool.submit(writer, w) for w in range(4)]
            checkers = [pool.submit(checker, w) for w in range(4)]
            results = [f.result() for f in writers]
            check_statuses = [s for f in checkers for s in f.result()]

        assert set(check_statuses) == {200}
        kept = set().union(*(r[0] for r in results))
        deleted = set().union(*(r[1] for r in results))
        assert {s for r in results for s in r[2]} <= {200, 204}
        with httpx.Client(base_url=server.url, timeout=60) as client:
            stats = client.get("/stats").json()
            assert (stats["documents"], stats["paragraphs"]) == (len(kept), 2 * len(kept))
            for doc_id in kept:
                assert client.get(f"/documents/{doc_id}").status_code == 200
            for doc_id in deleted:
                assert client.get(f"/documents/{doc_id}").status_code == 404
            worker, i = 1, 1  # w1-1 is kept: 1 % 3 != 0
            body = client.post("/check", json={"text": text(worker, i)}).json()
            # the templated texts of other workers are near-duplicates too; only
            # the document itself is an exact match
            exact = {m["document_id"] for m in body["paragraphs"][0]["matches"] if m["similarity"] == 1.0}
            assert exact == {"w1-1"}
