"""Auth, limits, bad input, metrics, logs and timeouts: each test fails
without the protection it names."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.settings import Settings
from tests.articles import ARCHIVED_EN, SEED_SHAPED_FR

KEYS = "first-secret-key, second-secret-key"


def make_client(tmp_path: Path, **overrides: object) -> TestClient:
    settings = Settings(store=f"sqlite:///{tmp_path}/hard.db", **overrides)  # type: ignore[arg-type]
    return TestClient(create_app(settings))


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path, api_keys=KEYS) as c:
        yield c


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_writes_need_a_valid_key(keyed: TestClient) -> None:
    doc = {"id": "a", "text": ARCHIVED_EN}
    missing = keyed.post("/ingest", json=doc)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "API key" in missing.json()["detail"]
    assert keyed.post("/ingest", json=doc, headers=bearer("wrong")).status_code == 401
    assert keyed.post("/ingest", json=doc, headers={"authorization": "Basic Zm9vOmJhcg=="}).status_code == 401
    assert keyed.get("/stats").json()["documents"] == 0
    assert keyed.post("/ingest", json=doc, headers=bearer("second-secret-key")).status_code == 200
    assert keyed.delete("/documents/a").status_code == 401
    assert keyed.delete("/documents/a", headers=bearer("first-secret-key")).status_code == 204


def test_reads_are_open_unless_configured(keyed: TestClient, tmp_path: Path) -> None:
    assert keyed.post("/check", json={"text": SEED_SHAPED_FR}).status_code == 200
    assert keyed.get("/documents/x").status_code == 404
    with make_client(tmp_path / "reads", api_keys=KEYS, auth_reads=True) as strict:
        assert strict.post("/check", json={"text": SEED_SHAPED_FR}).status_code == 401
        assert strict.get("/stats").status_code == 401
        assert strict.get("/documents/x").status_code == 401
        assert (
            strict.post(
                "/check", json={"text": SEED_SHAPED_FR}, headers=bearer("first-secret-key")
            ).status_code
            == 200
        )
        # liveness and readiness stay open for orchestrators
        assert strict.get("/health").status_code == 200
        assert strict.get("/ready").status_code == 200


def test_keys_never_appear_in_logs_or_settings_repr(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(store=f"sqlite:///{tmp_path}/s.db", api_keys=KEYS)  # type: ignore[arg-type]
    assert "first-secret-key" not in repr(settings)
    logger = logging.getLogger("paradup")
    with make_client(tmp_path, api_keys=KEYS) as c:
        logger.propagate = True
        with caplog.at_level(logging.INFO, logger="paradup"):
            c.post("/ingest", json={"id": "a", "text": "x"}, headers=bearer("first-secret-key"))
            c.post("/ingest", json={"id": "a", "text": "x"}, headers=bearer("guess-secret"))
        logger.propagate = False
    assert caplog.records
    assert "secret" not in caplog.text


def test_structured_access_log_with_request_id(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("paradup")
    with make_client(tmp_path) as c:
        logger.propagate = True
        with caplog.at_level(logging.INFO, logger="paradup"):
            r = c.post("/check", json={"text": SEED_SHAPED_FR}, headers={"x-request-id": "req-42"})
        logger.propagate = False
    assert r.headers["x-request-id"] == "req-42"
    (record,) = [rec for rec in caplog.records if getattr(rec, "fields", {}).get("request_id") == "req-42"]
    line = json.loads(logger.handlers[0].formatter.format(record))  # type: ignore[union-attr]
    assert line["request_id"] == "req-42"
    assert line["route"] == "/check"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0


def test_request_id_is_generated(client: TestClient) -> None:
    a = client.get("/health").headers["x-request-id"]
    b = client.get("/health").headers["x-request-id"]
    assert a != b
    assert len(a) == 32


def test_metrics(client: TestClient) -> None:
    client.post("/ingest", json={"id": "m1", "text": ARCHIVED_EN})
    client.post("/check", json={"text": SEED_SHAPED_FR})
    text = client.get("/metrics").text
    assert 'paradup_http_requests_total{method="POST",route="/check",status="200"}' in text
    assert 'paradup_http_request_duration_seconds_bucket{le="0.001",method="POST",route="/check"}' in text
    assert "paradup_index_documents 1.0" in text
    assert "paradup_index_paragraphs 3.0" in text
    assert 'paradup_ingested_documents_total{status="created"}' in text
    assert 'paradup_checked_paragraphs_total{status="duplicate"}' in text


def test_paragraph_count_and_length_limits(tmp_path: Path) -> None:
    with make_client(tmp_path, max_paragraphs=3, max_paragraph_chars=200) as c:
        too_many = "\n".join(f"Paragraph {i}." for i in range(4))
        r = c.post("/check", json={"text": too_many})
        assert r.status_code == 422
        assert "4 paragraphs; the limit is 3" in r.json()["detail"]
        long = "word " * 100
        r = c.post("/ingest", json={"id": "long", "text": long})
        assert r.status_code == 422
        assert "characters long; the limit is 200" in r.json()["detail"]
        assert c.get("/stats").json()["documents"] == 0


def test_batch_size_limit(tmp_path: Path) -> None:
    with make_client(tmp_path, max_batch_documents=2) as c:
        docs = [{"id": str(i), "text": "text"} for i in range(3)]
        r = c.post("/ingest", json={"documents": docs})
        assert r.status_code == 422
        assert "limit is 2" in r.json()["detail"]
        assert c.get("/stats").json()["documents"] == 0


def test_megabyte_paragraph_is_refused_cleanly(client: TestClient) -> None:
    huge = "a" * (1024 * 1024)
    r = client.post("/check", json={"text": huge})
    assert r.status_code == 422
    assert "limit is 100000" in r.json()["detail"]


def test_nul_and_control_characters(client: TestClient, tmp_path: Path) -> None:
    r = client.post("/ingest", json={"id": "nul", "text": "before\x00after"})
    assert r.status_code == 422
    assert "NUL character at offset 6" in r.json()["detail"]
    ok = client.post("/check", json={"text": "stray\x07bell and more words here"})
    assert ok.status_code == 200
    assert ok.json()["paragraphs"][0]["text"] == "stray bell and more words here"
    with make_client(tmp_path / "strict", reject_control_chars=True) as strict:
        r = strict.post("/check", json={"text": "stray\x07bell"})
        assert r.status_code == 422
        assert "U+0007 at offset 5" in r.json()["detail"]


def test_characters_that_expand_to_many_tokens(client: TestClient) -> None:
    # U+32C6 normalises to "7月", U+33C2 to "a.m.": more tokens than characters.
    dense = "㋆㋇㋈㋉㏂㏘" * 40
    assert client.post("/check", json={"text": dense}).status_code == 200
    r = client.post("/ingest", json={"id": "dense", "text": dense})
    assert r.status_code == 200
    again = client.post("/check", json={"text": dense}).json()
    assert again["paragraphs"][0]["matches"][0]["similarity"] == 1.0


def test_deeply_nested_json_is_422(client: TestClient) -> None:
    depth = 100_000
    nested = '{"id": "deep", "text": "t", "metadata": {"a": ' + "[" * depth + "]" * depth + "}}"
    r = client.post("/ingest", content=nested.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"]
    assert client.get("/documents/deep").status_code == 404


def test_broken_html_is_checked_not_refused(client: TestClient) -> None:
    r = client.post("/check", json={"text": "<p>open <div><<>> <b>bold</p></i>&bogus;", "format": "html"})
    assert r.status_code == 200
    assert r.json()["paragraphs"]


def test_ndjson_batch_names_the_bad_line_and_writes_nothing(client: TestClient) -> None:
    lines = [json.dumps({"id": "n1", "text": ARCHIVED_EN}), "", '{"id": "n2", "text": 7}']
    r = client.post(
        "/ingest", content="\n".join(lines).encode(), headers={"content-type": "application/x-ndjson"}
    )
    assert r.status_code == 422
    assert r.json()["detail"].startswith("line 3: text:")
    assert "nothing was ingested" in r.json()["detail"]
    assert client.get("/documents/n1").status_code == 404
    good = "\n".join([*lines[:2], json.dumps({"id": "n2", "text": "second"})])
    r = client.post("/ingest", content=good.encode(), headers={"content-type": "application/x-ndjson"})
    assert [d["status"] for d in r.json()["documents"]] == ["created", "created"]


def test_request_timeout_answers_504(tmp_path: Path) -> None:
    # A timeout so short that it has always expired by the first await.
    with make_client(tmp_path, request_timeout=1e-9) as c:
        r = c.post("/check", json={"text": SEED_SHAPED_FR})
        assert r.status_code == 504
        assert "longer than" in r.json()["detail"]


def test_invalid_utf8_inside_json_is_422(client: TestClient) -> None:
    body = b'{"id": "bad-bytes", "text": "caf\xe9 au lait"}'
    r = client.post("/ingest", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"]
    assert client.get("/documents/bad-bytes").status_code == 404


def test_wrong_types_everywhere_are_422(client: TestClient) -> None:
    for body in (
        {"text": ["a"]},
        {"text": "ok", "exclude_ids": "one"},
        {"text": "ok", "threshold": "high"},
        {"text": "ok", "format": None},
    ):
        r = client.post("/check", json=body)
        assert r.status_code == 422, body
        assert r.json()["detail"]


@pytest.mark.parametrize("charset", ["rot13", "base64", "zlib", "hex", "unicode_escape"])
def test_non_text_charsets_are_415(client: TestClient, charset: str) -> None:
    r = client.post("/check", content=b"aGVsbG8=", headers={"content-type": f"text/plain; charset={charset}"})
    assert r.status_code == 415
    assert charset in r.json()["detail"]


def test_surrogates_after_decoding_are_400(client: TestClient) -> None:
    body = "caf\udce9".encode("utf-16-le", "surrogatepass")
    r = client.post("/check", content=body, headers={"content-type": "text/plain; charset=utf-16-le"})
    assert r.status_code == 400
    assert r.json()["detail"]


def test_single_document_mentioning_documents_is_not_a_batch(client: TestClient) -> None:
    doc = {"id": "meta", "text": ARCHIVED_EN, "metadata": {"documents": ["a"], "kind": "documents"}}
    r = client.post("/ingest", json=doc)
    assert r.status_code == 200
    assert r.json()["documents"][0]["id"] == "meta"


def test_sqlite_failure_is_503_not_500(tmp_path: Path) -> None:
    from app.store.sqlite_driver import sqlite3

    with make_client(tmp_path) as c:
        assert c.post("/ingest", json={"id": "a", "text": ARCHIVED_EN}).status_code == 200
        # break the store under the running service: a real SQLite error
        outside = sqlite3.connect(tmp_path / "hard.db")
        # meta: every lookup reads the index generation there (the bucket
        # table ``bands`` is read only in a store upgraded from format 2)
        outside.execute("DROP TABLE meta")
        outside.commit()
        outside.close()
        r = c.post("/check", json={"text": ARCHIVED_EN})
        assert r.status_code == 503
        assert "store" in r.json()["detail"]
        r = c.post("/ingest", json={"id": "b", "text": ARCHIVED_EN})
        assert r.status_code == 503
