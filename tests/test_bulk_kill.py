"""A `paradup ingest` of a large file (the path with preparing processes
and packed writes) killed mid-way: the store holds whole transactions of the
file's first documents, each document whole, and a second run completes it.

The kill is triggered by progress (the first transaction committed), not
by a delay."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from app.cli import main
from app.engine import Service
from app.engine.bulk import PROCESS_MIN_BYTES
from app.settings import Settings
from app.store.sqlite_driver import sqlite3
from tests.live_server import ROOT

pytestmark = pytest.mark.slow

WORDS = (
    "harbour ferry council budget river bridge station teacher market museum orchestra winter "
    "harvest railway tunnel mayor festival library garden stadium clinic bakery quarry lantern "
    "meadow copper violin beacon tidal granite pilgrim saffron thimble walnut"
).split()


def _documents(path: Path) -> list[tuple[str, list[str]]]:
    """Documents of three paragraphs of seeded random words, written as JSON
    lines until the file is large enough for the preparing processes."""
    rng = random.Random(15)
    docs: list[tuple[str, list[str]]] = []
    size = 0
    with path.open("w", encoding="utf-8") as out:
        while size < PROCESS_MIN_BYTES + (1 << 20):
            paragraphs = [" ".join(rng.choices(WORDS, k=10)) + f" {len(docs)}-{i}." for i in range(3)]
            doc_id = f"kill/{len(docs):06d}"
            line = json.dumps({"id": doc_id, "text": "\n\n".join(paragraphs)}) + "\n"
            out.write(line)
            size += len(line.encode())
            docs.append((doc_id, paragraphs))
    return docs


def _stored_documents(db: Path) -> int:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'documents'").fetchone()
    except sqlite3.Error:  # not created yet
        return 0
    return 0 if row is None else int(row[0])


def test_a_killed_bulk_ingest_leaves_whole_transactions_and_a_rerun_completes_it(tmp_path: Path) -> None:
    source = tmp_path / "archive.jsonl"
    docs = _documents(source)
    db = tmp_path / "bulk.db"
    store = f"sqlite:///{db}"
    command = [sys.executable, "-m", "app.cli", "ingest", "--quiet", "--store", store, str(source)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while proc.poll() is None and _stored_documents(db) == 0:
            pass  # until the first transaction is committed
    finally:
        proc.kill()
        _, err = proc.communicate()
    stored = _stored_documents(db)
    assert stored > 0, err.decode()
    if proc.returncode == 0:
        pytest.skip("the ingest ended before it could be killed")
    assert stored < len(docs), "the kill came after the last write"

    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    service = Service.open(Settings(store=store))
    try:
        # Transactions are written in the file's order: the first ``stored``
        # documents, whole, and none after them.
        for doc_id, paragraphs in [*docs[:stored:997], docs[stored - 1]]:
            found = service.get(doc_id)
            assert found is not None and found.paragraphs == paragraphs, doc_id
        assert service.get(docs[stored][0]) is None
        assert service.stats().paragraphs == 3 * stored
    finally:
        service.close()
    assert main(["verify", "--store", store]) == 0

    assert main(["ingest", "--quiet", "--store", store, str(source)]) == 0
    service = Service.open(Settings(store=store))
    try:
        stats = service.stats()
        assert (stats.documents, stats.paragraphs) == (len(docs), 3 * len(docs))
        doc_id, paragraphs = docs[-1]
        found = service.get(doc_id)
        assert found is not None and found.paragraphs == paragraphs
        # findable, not just stored: one from before the kill, one after
        for doc_id, paragraphs in (docs[0], docs[-1]):
            matches = service.check(paragraphs[1])[0].matches
            assert doc_id in {m.document_id for m in matches}
    finally:
        service.close()
