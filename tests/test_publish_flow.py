"""Newsroom features of /check: the publish flow and boilerplate."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.settings import Settings
from tests.articles import ARCHIVED_EN, SEED_SHAPED_FR, UNRELATED_EN


def test_clean_article_is_checked_and_ingested_in_one_call(client: TestClient) -> None:
    body = client.post(
        "/check", json={"text": ARCHIVED_EN, "ingest_as": "harbour", "metadata": {"section": "city"}}
    ).json()
    assert body["duplicate"] is False
    assert body["ingested"] == {"id": "harbour", "status": "created", "paragraphs": 3}
    assert client.get("/documents/harbour").json()["metadata"] == {"section": "city"}
    # re-publishing the same version is not flagged against itself
    again = client.post(
        "/check", json={"text": ARCHIVED_EN, "ingest_as": "harbour", "metadata": {"section": "city"}}
    ).json()
    assert again["duplicate"] is False
    assert again["ingested"]["status"] == "unchanged"


def test_duplicate_article_is_not_ingested_unless_forced(client: TestClient) -> None:
    blocked = client.post("/check", json={"text": SEED_SHAPED_FR, "ingest_as": "seed"}).json()
    assert blocked["duplicate"] is True
    assert blocked["ingested"] is None
    assert client.get("/documents/seed").status_code == 404
    forced = client.post("/check", json={"text": SEED_SHAPED_FR, "ingest_as": "seed", "force": True}).json()
    assert forced["duplicate"] is True
    assert forced["ingested"] == {"id": "seed", "status": "created", "paragraphs": 5}


def test_plain_check_ingests_nothing(client: TestClient) -> None:
    body = client.post("/check", json={"text": ARCHIVED_EN}).json()
    assert body["ingested"] is None
    assert client.get("/stats").json()["documents"] == 0


def test_publish_flow_needs_a_write_key_when_keys_are_set(tmp_path: Path) -> None:
    settings = Settings(store=f"sqlite:///{tmp_path}/k.db", api_keys="desk-key")  # type: ignore[arg-type]
    with TestClient(create_app(settings)) as c:
        assert c.post("/check", json={"text": ARCHIVED_EN}).status_code == 200
        r = c.post("/check", json={"text": ARCHIVED_EN, "ingest_as": "x"})
        assert r.status_code == 401
        assert c.get("/stats").json()["documents"] == 0
        ok = c.post(
            "/check",
            json={"text": ARCHIVED_EN, "ingest_as": "x"},
            headers={"authorization": "Bearer desk-key"},
        )
        assert ok.json()["ingested"]["status"] == "created"


def test_paragraph_in_many_archived_documents_is_boilerplate(tmp_path: Path) -> None:
    tagline = (
        "Sign up for the Harbour Weekly newsletter to receive the best of our local reporting "
        "in your inbox every Friday morning."
    )
    settings = Settings(store=f"sqlite:///{tmp_path}/b.db", boilerplate_min_documents=4)
    with TestClient(create_app(settings)) as c:
        for i, body in enumerate([ARCHIVED_EN, UNRELATED_EN, SEED_SHAPED_FR.replace("\n", "\n\n")]):
            c.post("/ingest", json={"id": f"story-{i}", "text": f"{body}\n\n{tagline}"})
        article = f"{UNRELATED_EN.split(chr(10) * 2)[0]}\n\n{tagline}"
        three = c.post("/check", json={"text": article}).json()
        # three documents: below the rule, the matches are listed
        assert three["paragraphs"][1]["boilerplate"] is False
        assert len(three["paragraphs"][1]["matches"]) == 3
        c.post(
            "/ingest", json={"id": "story-3", "text": f"Another story entirely, about trains.\n\n{tagline}"}
        )
        four = c.post("/check", json={"text": article}).json()
        tag = four["paragraphs"][1]
        assert tag["boilerplate"] is True
        assert tag["boilerplate_documents"] == 4
        assert tag["matches"] == []
        assert tag["status"] == "unique"
        # the other paragraph still reports its archive match
        assert four["paragraphs"][0]["status"] == "duplicate"
        assert four["duplicate"] is True


def test_filters_restrict_archive_matches_by_metadata(client: TestClient) -> None:
    docs = [
        ("old-city", {"section": "city", "published": "2025-03-01"}),
        ("new-city", {"section": "city", "published": "2026-10-15T08:30:00Z"}),
        ("new-sport", {"section": "sport", "published": "2026-11-01"}),
        ("undated", {"section": "city"}),
    ]
    for doc_id, metadata in docs:
        client.post("/ingest", json={"id": doc_id, "text": ARCHIVED_EN, "metadata": metadata})
    article = ARCHIVED_EN.split("\n\n")[0]

    def sources(filters: dict[str, object] | None) -> set[str]:
        body = client.post("/check", json={"text": article, "filters": filters}).json()
        return {m["document_id"] for m in body["paragraphs"][0]["matches"]}

    assert sources(None) == {"old-city", "new-city", "new-sport", "undated"}
    assert sources({"since": "2026-01-01"}) == {"new-city", "new-sport"}
    assert sources({"until": "2025-12-31"}) == {"old-city"}
    # a date alone includes the whole day
    assert sources({"until": "2026-10-15"}) == {"old-city", "new-city"}
    assert sources({"until": "2026-10-15T08:00:00Z"}) == {"old-city"}
    assert sources({"metadata": {"section": "city"}}) == {"old-city", "new-city", "undated"}
    assert sources({"since": "2026-01-01", "metadata": {"section": ["city", "culture"]}}) == {"new-city"}
    assert sources({"metadata": {"section": "weather"}}) == set()
    bad = client.post("/check", json={"text": article, "filters": {"since": "last tuesday"}})
    assert bad.status_code == 422


def test_archive_filter_rules() -> None:
    from app.engine import ArchiveFilter
    from app.engine.filters import as_datetime

    assert as_datetime("2026-11-02") == as_datetime("2026-11-02T00:00:00+00:00")
    assert as_datetime("not a date") is None
    assert as_datetime(12) is None
    since = ArchiveFilter(since=as_datetime("2026-11-02T12:00:00+02:00"))
    assert since.accepts({"published": "2026-11-02T10:00:00Z"})
    assert not since.accepts({"published": "2026-11-02T09:59:59Z"})
    assert not since.accepts({})
    assert ArchiveFilter(date_field="date", until=as_datetime("2026-01-01")).accepts({"date": "2025-06-01"})


PITCH = (
    "Our journalism is free to read because readers like you support it: become a member today "
    "and help us keep reporting on the harbour, the council and the courts."
)


def test_allowlisted_phrase_reports_no_archive_match(client: TestClient) -> None:
    client.post("/ingest", json={"id": "story", "text": f"{ARCHIVED_EN}\n\n{PITCH}"})
    article = f"{UNRELATED_EN}\n\n{PITCH}"
    before = client.post("/check", json={"text": article}).json()
    assert before["paragraphs"][2]["status"] == "duplicate"

    added = client.post("/allowlist", json={"text": PITCH.upper(), "note": "membership pitch"})
    assert added.status_code == 201
    entry = added.json()
    assert entry["id"].startswith("__allowlist__/")
    assert entry["status"] == "created"
    again = client.post("/allowlist", json={"text": PITCH, "note": "membership pitch"}).json()
    assert again["id"] == entry["id"]  # same phrase after normalisation

    after = client.post("/check", json={"text": article}).json()
    pitch = after["paragraphs"][2]
    assert pitch["allowlisted"] is True
    assert pitch["status"] == "unique"
    assert pitch["matches"] == []
    assert after["duplicate"] is False
    # a paragraph repeated inside the article is still reported
    twice = client.post("/check", json={"text": f"{PITCH}\n\n{PITCH}"}).json()
    assert twice["paragraphs"][1]["status"] == "duplicate"
    assert twice["paragraphs"][1]["matches"][0]["source"] == "article"

    listed = client.get("/allowlist").json()["entries"]
    assert [(e["id"], e["note"]) for e in listed] == [(entry["id"], "membership pitch")]
    assert client.delete(f"/allowlist/{entry['id']}").status_code == 204
    assert client.delete(f"/allowlist/{entry['id']}").status_code == 404
    assert client.get("/allowlist").json()["entries"] == []
    restored = client.post("/check", json={"text": article}).json()
    assert restored["paragraphs"][2]["status"] == "duplicate"


def test_allowlist_refusals(client: TestClient) -> None:
    assert client.post("/allowlist", json={"text": "Read more"}).status_code == 422
    assert client.post("/allowlist", json={"note": "no text"}).status_code == 422
    reserved = client.post("/ingest", json={"id": "__allowlist__/mine", "text": ARCHIVED_EN})
    assert reserved.status_code == 422
    assert "reserved" in reserved.json()["detail"]
    assert client.delete("/allowlist/story").status_code == 404
