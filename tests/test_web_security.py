"""Ids the router cannot confuse, and the security headers of the pages and
the API (the browser side of both is in tests/test_review_page.py)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.routes.review import SWAGGER_PREFIX
from tests.conftest import Server

# Ids a browser or a router could take for something else: dot segments that
# climb to other documents or routes, percent signs that could be decoded
# twice, query and fragment marks, spaces, plus signs and non-ASCII.
TRICKY_IDS = [
    "xss/../a1",
    "xss/../../stats",
    "a/./b",
    "%2e%2e/a1",
    "100%",
    "100%25",
    "what?x=1&y=2",
    "a#b",
    "with space",
    "a+b",
    "Zürich/été 2026",
    "新闻/记事",
    "/leading",
    "trailing/",
]
# A path can never carry these two: clients resolve them as dot segments,
# even percent-encoded. The query form takes them.
DOT_IDS = [".", ".."]
DECOY_IDS = ["a1", "stats", "b", "xss"]

_WORDS = (
    "harbour ferry council budget river bridge school library museum garden station tram "
    "market festival archive tower square election mayor region orchard vineyard lighthouse "
    "quarry mill canal forest meadow valley glacier island coast dune marsh reef summit "
    "engine signal lantern compass ledger journal chapter verse anthem banner beacon harvest "
    "winter autumn spring summer morning evening midnight thunder rainfall drought frost"
).split()


def distinct_paragraph(seed: str) -> str:
    """A paragraph of words drawn at random for ``seed``: two seeds share
    too few shingles to match."""
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(40)) + "."


def ingest_all(post: Callable[..., httpx.Response], ids: list[str]) -> None:
    documents = [{"id": i, "text": distinct_paragraph(i), "metadata": {"marker": f"doc:{i}"}} for i in ids]
    response = post("/ingest", json={"documents": documents})
    assert response.status_code == 200, response.text


def path_of(document_id: str) -> str:
    return "/documents/" + quote(document_id, safe="")


def test_every_id_resolves_to_its_own_document(client: TestClient) -> None:
    ingest_all(client.post, TRICKY_IDS + DOT_IDS + DECOY_IDS)
    for doc_id in TRICKY_IDS + DOT_IDS + DECOY_IDS:
        by_query = client.get("/documents", params={"id": doc_id})
        assert by_query.status_code == 200, (doc_id, by_query.text)
        assert by_query.json()["id"] == doc_id
        assert by_query.json()["metadata"] == {"marker": f"doc:{doc_id}"}
    # Starlette's TestClient decodes the path twice (%2525 arrives as %): ids
    # with a percent sign go through the real server in the next test.
    for doc_id in (i for i in TRICKY_IDS if "%" not in i):
        by_path = client.get(path_of(doc_id))
        assert by_path.status_code == 200, (doc_id, by_path.text)
        assert by_path.json()["metadata"] == {"marker": f"doc:{doc_id}"}


def test_query_form_errors_are_json(client: TestClient) -> None:
    missing = client.get("/documents")
    assert missing.status_code == 422 and "detail" in missing.json()
    empty = client.get("/documents", params={"id": ""})
    assert empty.status_code == 422 and "detail" in empty.json()
    unknown = client.get("/documents", params={"id": "x/../nope"})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no document with id 'x/../nope'"}


@pytest.mark.slow
def test_fully_encoded_ids_on_a_real_server(tmp_path: Path) -> None:
    """uvicorn decodes the path once: %2F is a slash inside the id, %25 a
    percent sign, and nothing is decoded twice or resolved as a segment."""
    with Server(f"sqlite:///{tmp_path}/ids.db") as server:
        http = server.client
        ingest_all(http.post, TRICKY_IDS + DECOY_IDS)
        for doc_id in TRICKY_IDS:
            answer = http.get(path_of(doc_id))
            assert answer.status_code == 200, (doc_id, answer.text)
            assert answer.json()["id"] == doc_id
            assert http.get("/documents", params={"id": doc_id}).json()["id"] == doc_id
        # the encoded id is deleted, never the decoy its dots point to
        assert http.delete(path_of("xss/../a1")).status_code == 204
        assert http.get("/documents/a1").status_code == 200


CSP_DIRECTIVES = re.compile(r"\s*;\s*")


def csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    pairs = (d.split(" ", 1) for d in CSP_DIRECTIVES.split(policy.strip()) if d)
    return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}


def assert_common_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    policy = csp(response)
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_have_a_strict_csp(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert_common_headers(page)
    policy = csp(page)
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    # nothing inline for the CSP to block, and every file comes from here
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert "<style" not in page.text and " style=" not in page.text
    assert not re.search(r"\bon[a-z]+=", page.text)
    for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert url.startswith("/static/"), url
        loaded = client.get(url)
        assert loaded.status_code == 200, url
        assert loaded.headers["content-type"].split(";")[0] in {"text/javascript", "text/css", "image/png"}
        assert loaded.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/stats", "/health", "/documents/nope", "/static/nope.js", "/openapi.json"])
def test_api_answers_carry_the_headers_too(client: TestClient, path: str) -> None:
    assert_common_headers(client.get(path))


@pytest.mark.parametrize(
    "path",
    [
        "/static/review.html",
        "/static/__init__.py",
        "/static/..%2F__init__.py",
        "/static/..%2Fapi%2Ffactory.py",
        f"{SWAGGER_PREFIX}/index.html",
        f"{SWAGGER_PREFIX}/..%2F..%2F__init__.py",
    ],
)
def test_only_listed_files_are_served(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert "detail" in answer.json()


def test_redoc_points_to_the_local_docs(client: TestClient) -> None:
    answer = client.get("/redoc", follow_redirects=False)
    assert answer.status_code == 308 and answer.headers["location"] == "/docs"


CROSS_SITE_WRITES = [
    {"origin": "http://evil.example"},
    {"origin": "null"},
    {"sec-fetch-site": "cross-site", "origin": "http://evil.example"},
    {"sec-fetch-site": "same-site", "origin": "http://other.testserver"},
    # a forged Sec-Fetch-Site is not needed: a browser always sends the real one
    {"sec-fetch-site": "cross-site"},
]


@pytest.mark.parametrize("headers", CROSS_SITE_WRITES)
def test_browsers_cross_origin_writes_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    document = {"id": "csrf/1", "text": distinct_paragraph("csrf")}
    refused = client.post("/ingest", json=document, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("cross-origin request refused")
    assert_common_headers(refused)
    assert client.delete("/documents/csrf/1", headers=headers).status_code == 403
    assert client.post("/check", json={"text": "a b c d"}, headers=headers).status_code == 403
    # reads stay open (a browser cannot read them cross-origin without CORS anyway)
    assert client.get("/stats", headers=headers).status_code == 200
    assert client.get("/documents/csrf/1").status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"}, {"origin": "http://testserver"}],
)
def test_same_origin_and_non_browser_writes_pass(client: TestClient, headers: dict[str, str]) -> None:
    document = {"id": "ok/1", "text": distinct_paragraph("ok")}
    assert client.post("/ingest", json=document, headers=headers).status_code == 200
    assert client.delete("/documents/ok/1", headers=headers).status_code == 204
