"""Input refused with a 422 that says why: metadata too large or too deep,
ids that would look like other ids, non-finite query numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.engine.records import MAX_METADATA_DEPTH
from app.settings import Settings

TEXT = "The harbour board met on Thursday evening to discuss the dredging contract again."


@pytest.fixture
def small_metadata(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(store=f"sqlite:///{tmp_path}/index.db", max_metadata_bytes=1000)
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_default_metadata_limit_is_64_kib() -> None:
    assert Settings().max_metadata_bytes == 64 * 1024


@pytest.mark.parametrize("path", ["/ingest", "/check"])
def test_metadata_over_the_limit_is_refused_naming_the_document(
    small_metadata: TestClient, path: str
) -> None:
    fits = {"tags": ["x" * 10] * 60}  # 790 bytes as compact JSON
    too_big = {"tags": ["x" * 10] * 90}  # 1,180 bytes
    id_field = "id" if path == "/ingest" else "ingest_as"
    ok = small_metadata.post(path, json={id_field: "fits", "text": TEXT, "metadata": fits})
    assert ok.status_code == 200, ok.text
    refused = small_metadata.post(path, json={id_field: "big-one", "text": TEXT, "metadata": too_big})
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "document 'big-one': its metadata takes 1180 bytes as JSON; "
        "the limit is 1000 (PARADUP_MAX_METADATA_BYTES)"
    )
    assert small_metadata.get("/documents/big-one").status_code == 404


def test_a_batch_with_one_document_over_the_metadata_limit_writes_nothing(small_metadata: TestClient) -> None:
    docs = [
        {"id": "small", "text": TEXT, "metadata": {"section": "local"}},
        {"id": "huge", "text": TEXT, "metadata": {f"k{i}": i for i in range(200)}},
    ]
    answer = small_metadata.post("/ingest", json={"documents": docs})
    assert answer.status_code == 422 and "'huge'" in answer.json()["detail"]
    assert small_metadata.get("/documents/small").status_code == 404


def test_metadata_nested_too_deep_is_refused(client: TestClient) -> None:
    def nested(depth: int) -> dict[str, object]:
        value: dict[str, object] = {"leaf": 1}
        for _ in range(depth - 1):
            value = {"a": value}
        return value

    fits = client.post(
        "/ingest", json={"id": "deep-ok", "text": TEXT, "metadata": nested(MAX_METADATA_DEPTH)}
    )
    assert fits.status_code == 200, fits.text
    refused = client.post(
        "/ingest", json={"id": "deep", "text": TEXT, "metadata": nested(MAX_METADATA_DEPTH + 1)}
    )
    assert refused.status_code == 422
    assert f"nested more than {MAX_METADATA_DEPTH} levels deep" in refused.text


LOOKALIKES = {
    "\u202e": "a bidirectional control (U+202E at 7)",
    "\u2066": "a bidirectional control (U+2066 at 7)",
    "\u200f": "a bidirectional control (U+200F at 7)",
    "\u200b": "a zero-width character (U+200B at 7)",
    "\ufeff": "a zero-width character (U+FEFF at 7)",
    "\u00ad": "an invisible character (U+00AD at 7)",
    "\x85": "control characters (U+0085 at 7)",
    "\x9b": "control characters (U+009B at 7)",
}


@pytest.mark.parametrize(("char", "problem"), LOOKALIKES.items(), ids=[f"U+{ord(c):04X}" for c in LOOKALIKES])
@pytest.mark.parametrize("path", ["/ingest", "/check"])
def test_ids_that_could_look_like_another_id_are_refused(
    client: TestClient, path: str, char: str, problem: str
) -> None:
    doc_id = f"story-1{char}2"
    id_field = "id" if path == "/ingest" else "ingest_as"
    answer = client.post(path, json={id_field: doc_id, "text": TEXT})
    assert answer.status_code == 422
    assert f"must not contain {problem}" in answer.text
    assert client.get("/documents", params={"id": doc_id}).status_code == 404


def test_visible_non_ascii_ids_are_still_accepted(client: TestClient) -> None:
    for doc_id in ("café/2026", "東京-1", "عربي-٣", "emoji-🗞"):
        assert client.post("/ingest", json={"id": doc_id, "text": TEXT}).status_code == 200, doc_id


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_a_non_finite_query_threshold_is_refused_as_not_a_finite_number(
    client: TestClient, value: str
) -> None:
    answer = client.post(f"/check?threshold={value}", content=TEXT, headers={"content-type": "text/plain"})
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["query", "threshold"]
    assert error["msg"] == "Input should be a finite number"
