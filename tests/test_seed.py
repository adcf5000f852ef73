"""The case that started the project, end to end through a real server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.articles import SEED_SHAPED_FR
from tests.conftest import SHARED, Server

# Real servers (uvicorn processes, Chromium): `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


def duplicates_of(response: dict) -> dict[int, list[int]]:  # type: ignore[type-arg]
    return {
        p["index"]: [m["paragraph_index"] for m in p["matches"]]
        for p in response["paragraphs"]
        if p["status"] == "duplicate"
    }


def test_seed_shaped_article_through_real_server(tmp_path: Path) -> None:
    with Server(f"sqlite:///{tmp_path}/seed.db") as server:
        r = httpx.post(server.url + "/check", json={"text": SEED_SHAPED_FR}, timeout=30)
        assert r.status_code == 200
        body = r.json()
        assert body["duplicate"] is True
        assert duplicates_of(body) == {3: [1], 4: [2]}
        for p in body["paragraphs"]:
            assert SEED_SHAPED_FR[p["start"] : p["end"]] == p["text"]
        match = body["paragraphs"][3]["matches"][0]
        assert match["source"] == "article"
        assert match["similarity"] == 1.0
        assert match["document_id"] is None

        raw = httpx.post(
            server.url + "/check",
            content=SEED_SHAPED_FR.encode(),
            headers={"content-type": "text/plain; charset=utf-8"},
            timeout=30,
        )
        assert duplicates_of(raw.json()) == {3: [1], 4: [2]}


def test_the_real_seed_file(client) -> None:  # type: ignore[no-untyped-def]
    seed = SHARED / "seed" / "kremlin_fr.txt"
    if not seed.exists():
        pytest.skip(f"{seed} is absent: the shared seed article is not beside this checkout")
    body = client.post("/check", json={"text": seed.read_text(encoding="utf-8")}).json()
    # 1-based paragraphs 4 and 5 repeat paragraphs 2 and 3.
    assert duplicates_of(body) == {3: [1], 4: [2]}
    assert [p["status"] for p in body["paragraphs"]][:3] == ["unique"] * 3
