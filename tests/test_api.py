"""The HTTP contract through the in-process client: shapes and every error path."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

from tests.articles import ARCHIVED_EN, SEED_SHAPED_FR, UNRELATED_EN

PARAGRAPH_KEYS = {
    "index",
    "start",
    "end",
    "text",
    "status",
    "short",
    "boilerplate",
    "boilerplate_documents",
    "allowlisted",
    "repeat_of",
    "copies",
    "matches",
    "passages",
}
MATCH_KEYS = {"source", "document_id", "paragraph_index", "similarity", "containment", "text"}


def test_check_shape(client: TestClient) -> None:
    body = client.post("/check", json={"text": SEED_SHAPED_FR}).json()
    assert set(body) == {"duplicate", "reuse", "paragraphs", "ingested"}
    assert body["ingested"] is None
    assert len(body["paragraphs"]) == 5
    for p in body["paragraphs"]:
        assert set(p) == PARAGRAPH_KEYS
        for m in p["matches"]:
            assert set(m) == MATCH_KEYS
    assert [p["index"] for p in body["paragraphs"]] == [0, 1, 2, 3, 4]


def test_ingest_check_delete_cycle(client: TestClient) -> None:
    r = client.post(
        "/ingest", json={"id": "harbour-1", "text": ARCHIVED_EN, "metadata": {"section": "local"}}
    )
    assert r.status_code == 200
    assert r.json() == {"documents": [{"id": "harbour-1", "status": "created", "paragraphs": 3}]}

    copied = ARCHIVED_EN.split("\n\n")[1]
    article = UNRELATED_EN + "\n\n" + copied
    body = client.post("/check", json={"text": article}).json()
    assert body["duplicate"] is True
    flagged = body["paragraphs"][2]
    assert flagged["status"] == "duplicate"
    (match,) = flagged["matches"]
    assert match["source"] == "archive"
    assert match["document_id"] == "harbour-1"
    assert match["paragraph_index"] == 1
    assert match["similarity"] == 1.0
    assert match["text"] == copied
    assert [p["status"] for p in body["paragraphs"][:2]] == ["unique", "unique"]

    excluded = client.post("/check", json={"text": article, "exclude_ids": ["harbour-1"]}).json()
    assert excluded["duplicate"] is False

    doc = client.get("/documents/harbour-1").json()
    assert doc["id"] == "harbour-1"
    assert doc["metadata"] == {"section": "local"}
    assert [p["index"] for p in doc["paragraphs"]] == [0, 1, 2]
    assert doc["paragraphs"][1]["text"] == copied

    assert client.delete("/documents/harbour-1").status_code == 204
    assert client.post("/check", json={"text": article}).json()["duplicate"] is False
    assert client.get("/documents/harbour-1").status_code == 404


def test_reingest_statuses_and_batch(client: TestClient) -> None:
    one = {"id": "a", "text": ARCHIVED_EN}
    assert client.post("/ingest", json=one).json()["documents"][0]["status"] == "created"
    assert client.post("/ingest", json=one).json()["documents"][0]["status"] == "unchanged"
    changed = {"id": "a", "text": UNRELATED_EN}
    batch = {"documents": [changed, {"id": "b", "text": ARCHIVED_EN, "format": "text"}]}
    statuses = [d["status"] for d in client.post("/ingest", json=batch).json()["documents"]]
    assert statuses == ["updated", "created"]
    assert client.get("/stats").json()["documents"] == 2
    # the old version of "a" is no longer in the index; "b" is
    body = client.post("/check", json={"text": ARCHIVED_EN.split("\n\n")[0]}).json()
    assert [m["document_id"] for m in body["paragraphs"][0]["matches"]] == ["b"]


def test_html_check_and_offsets(client: TestClient) -> None:
    first, second = UNRELATED_EN.split("\n\n")
    html = f"<article><h2>Orchestra</h2><p>{first}</p><p>{second}</p><p>{first}</p></article>"
    body = client.post("/check", json={"text": html, "format": "html"}).json()
    texts = [p["text"] for p in body["paragraphs"]]
    assert texts == ["Orchestra", first, second, first]
    assert body["paragraphs"][3]["status"] == "duplicate"
    assert body["paragraphs"][3]["matches"][0]["paragraph_index"] == 1
    for p in body["paragraphs"][1:]:
        assert html[p["start"] : p["end"]] == f"<p>{p['text']}</p>"
    raw = client.post("/check", content=html.encode(), headers={"content-type": "text/html"}).json()
    assert raw["paragraphs"][3]["status"] == "duplicate"


def test_threshold_parameter_changes_the_verdict(client: TestClient) -> None:
    base = ARCHIVED_EN.split("\n\n")[0]
    edited = base.replace("Monday", "Tuesday").replace("several", "many")
    client.post("/ingest", json={"id": "h", "text": base})
    loose = client.post("/check", json={"text": edited}).json()
    (match,) = loose["paragraphs"][0]["matches"]
    score = match["similarity"]
    assert 0.5 <= score < 1.0
    assert match["containment"] < 1.0
    at_score = {"text": edited, "threshold": score, "containment_threshold": 1.0}
    assert client.post("/check", json=at_score).json()["duplicate"] is True
    above = {"text": edited, "threshold": score + 0.01, "containment_threshold": 1.0}
    assert client.post("/check", json=above).json()["duplicate"] is False


def test_health_ready_stats(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ok"}
    stats = client.get("/stats").json()
    assert stats["documents"] == 0
    assert stats["paragraphs"] == 0
    assert client.get("/openapi.json").json()["paths"]["/check"]["post"]["requestBody"]["content"]


# Error paths: a 4xx with a JSON detail, and nothing written.


def _error(response, status: int) -> object:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert detail
    return detail


def test_check_errors(client: TestClient) -> None:
    _error(client.post("/check", json={"text": "x", "format": "pdf"}), 422)
    _error(client.post("/check", json={"format": "text"}), 422)
    _error(client.post("/check", json={"text": 5}), 422)
    _error(client.post("/check", json={"text": "x", "threshold": 1.5}), 422)
    _error(client.post("/check", json={"text": "x", "surprise": True}), 422)
    _error(client.post("/check", json={"text": "   \n  "}), 422)
    _error(client.post("/check", content=b"{not json", headers={"content-type": "application/json"}), 422)
    _error(client.post("/check", content=b"", headers={"content-type": "application/json"}), 422)
    _error(client.post("/check", content=b"[1, 2]", headers={"content-type": "application/json"}), 422)
    _error(client.post("/check", content=b"<x/>", headers={"content-type": "application/xml"}), 415)
    _error(
        client.post("/check", content=b"a=b", headers={"content-type": "application/x-www-form-urlencoded"}),
        415,
    )
    _error(client.post("/check", content=b"\xff\xfe\xfa", headers={"content-type": "text/plain"}), 400)
    _error(
        client.post("/check", content=b"abc", headers={"content-type": "text/plain; charset=klingon"}), 415
    )


def test_body_too_large_is_413(client: TestClient) -> None:
    limit = client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    big = b"a" * (limit + 1)
    detail = _error(client.post("/check", content=big, headers={"content-type": "text/plain"}), 413)
    assert str(limit) in str(detail)

    def chunks() -> Iterator[bytes]:
        # no content-length: the limit must hold on a streamed body too
        for _ in range(limit // 65536 + 2):
            yield b"b" * 65536

    _error(client.post("/ingest", content=chunks(), headers={"content-type": "application/json"}), 413)
    assert client.get("/stats").json()["documents"] == 0


def test_ingest_errors_write_nothing(client: TestClient) -> None:
    _error(client.post("/ingest", json={"text": "no id"}), 422)
    _error(client.post("/ingest", json={"id": "", "text": "empty id"}), 422)
    _error(client.post("/ingest", json={"id": "a\nb", "text": "control char in id"}), 422)
    _error(client.post("/ingest", json={"id": "x", "text": "t", "metadata": [1]}), 422)
    _error(client.post("/ingest", json={"documents": []}), 422)
    bad_batch = {"documents": [{"id": "good", "text": ARCHIVED_EN}, {"id": "bad", "text": 12}]}
    _error(client.post("/ingest", json=bad_batch), 422)
    dup_batch = {"documents": [{"id": "same", "text": ARCHIVED_EN}, {"id": "same", "text": UNRELATED_EN}]}
    assert "same" in str(_error(client.post("/ingest", json=dup_batch), 422))
    _error(client.post("/ingest", content=b"id=1", headers={"content-type": "text/plain"}), 415)
    assert client.get("/stats").json() == {**client.get("/stats").json(), "documents": 0, "paragraphs": 0}
    assert client.get("/documents/good").status_code == 404


def test_unknown_documents_are_404(client: TestClient) -> None:
    _error(client.get("/documents/nope"), 404)
    _error(client.delete("/documents/nope"), 404)


def test_ids_with_slashes_and_unicode(client: TestClient) -> None:
    doc_id = "2026/11/élections-régionales"
    assert client.post("/ingest", json={"id": doc_id, "text": ARCHIVED_EN}).status_code == 200
    assert client.get(f"/documents/{doc_id}").json()["id"] == doc_id
    assert client.delete(f"/documents/{doc_id}").status_code == 204
