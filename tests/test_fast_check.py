"""The common /check answered below FastAPI's routing (app/api/fast_check.py):
the same bytes as the route, and everything else still the route's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from app.api import fast_check
from app.api.factory import create_app
from app.api.routes.check import INLINE_MAX_CHARS
from app.engine.cancel import Cancelled
from app.settings import Settings
from app.store import StoreUnavailable
from tests.articles import ARCHIVED_EN, SEED_SHAPED_FR, UNRELATED_EN
from tests.conftest import Server

COPIED = ARCHIVED_EN.split("\n\n")[1]
HEADERS_COMPARED = ("content-type", "content-length", "x-content-type-options", "content-security-policy")


class Counted:
    """Counts the checks the fast path runs itself."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs = 0
        original: Callable[..., bytes] = fast_check.run_check  # type: ignore[attr-defined]

        def counted(*args: Any, **kwargs: Any) -> bytes:
            self.runs += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(fast_check, "run_check", counted)


@pytest.fixture
def archive_client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store=f"sqlite:///{tmp_path}/fast.db"))) as c:
        r = c.post("/ingest", json={"id": "harbour", "text": ARCHIVED_EN, "metadata": {"section": "city"}})
        assert r.status_code == 200
        yield c


def _both_ways(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, **request: Any
) -> tuple[httpx.Response, httpx.Response, int]:
    """The answer with the fast path, the route's answer, and how many
    checks the fast path ran itself for the first."""
    counted = Counted(monkeypatch)
    fast = client.post("/check", **request)
    runs = counted.runs
    monkeypatch.setattr(fast_check.CheckFastPath, "_check", lambda self, scope, raw: None)
    routed = client.post("/check", **request)
    monkeypatch.undo()
    return fast, routed, runs


SIMPLE = [
    {"content": COPIED, "headers": {"content-type": "text/plain"}},
    {"content": COPIED.encode("utf-16"), "headers": {"content-type": "text/plain; charset=utf-16"}},
    {"content": f"<p>{COPIED}</p><p>{UNRELATED_EN}</p>", "headers": {"content-type": "text/html"}},
    {"json": {"text": SEED_SHAPED_FR}},
    {"json": {"text": ARCHIVED_EN, "threshold": 0.9, "containment_threshold": 0.95}},
    {"json": {"text": COPIED, "exclude_ids": ["harbour"]}},
    {"json": {"text": COPIED, "filters": {"metadata": {"section": "sport"}}}},
    {"json": {"text": f"<p>{COPIED}</p>", "format": "html"}},
    # Longer than is checked on the event loop: checked in a worker thread.
    {"json": {"text": "\n\n".join([COPIED, UNRELATED_EN] * (INLINE_MAX_CHARS // len(COPIED) + 1))}},
]


@pytest.mark.parametrize("request_args", SIMPLE, ids=range(len(SIMPLE)))
def test_a_simple_check_is_answered_here_with_the_routes_bytes(
    archive_client: TestClient, monkeypatch: pytest.MonkeyPatch, request_args: dict[str, Any]
) -> None:
    fast, routed, runs = _both_ways(archive_client, monkeypatch, **request_args)
    assert runs == 1
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    for name in HEADERS_COMPARED:
        assert fast.headers.get(name) == routed.headers.get(name), name
    assert fast.headers["x-request-id"]


ROUTED = [
    ({"content": COPIED, "params": {"threshold": "0.9"}, "headers": {"content-type": "text/plain"}}, 200),
    ({"json": {"text": COPIED, "ingest_as": "new-one"}}, 200),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
    ({"content": b"", "headers": {"content-type": "application/json"}}, 422),
    ({"json": {"text": COPIED, "threshold": 7}}, 422),
    ({"content": b"\xff\xfe\xfa", "headers": {"content-type": "text/plain"}}, 400),
    ({"content": COPIED, "headers": {"content-type": "text/plain; charset=rot13"}}, 415),
    ({"content": COPIED, "headers": {"content-type": "application/xml"}}, 415),
    ({"content": COPIED.encode(), "headers": {}}, 422),
]


@pytest.mark.parametrize(("request_args", "status"), ROUTED, ids=range(len(ROUTED)))
def test_everything_else_is_the_routes_to_answer(
    archive_client: TestClient, monkeypatch: pytest.MonkeyPatch, request_args: dict[str, Any], status: int
) -> None:
    fast, routed, runs = _both_ways(archive_client, monkeypatch, **request_args)
    assert runs == 0
    assert fast.status_code == status
    if "ingest_as" not in request_args.get("json", {}):  # the second one is a repeat
        assert (fast.status_code, fast.content) == (routed.status_code, routed.content)
    assert fast.headers["content-type"] == "application/json"


def test_a_store_failure_here_is_the_routes_503(
    archive_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = archive_client.app.state.service.store  # type: ignore[attr-defined]

    def unreachable(*args: Any) -> None:
        raise StoreUnavailable("the test took it away")

    monkeypatch.setattr(store, "hits", unreachable)  # the first store call of a check
    counted = Counted(monkeypatch)
    r = archive_client.post("/check", json={"text": COPIED})
    assert counted.runs == 1  # answered here, by the app's handler
    assert r.status_code == 503
    assert r.json()["detail"].startswith("index store")


def test_a_check_past_its_deadline_is_the_handlers_504(
    archive_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def late(*args: Any, **kwargs: Any) -> bytes:
        raise Cancelled("archive lookup")

    monkeypatch.setattr(fast_check, "run_check", late)
    r = archive_client.post("/check", json={"text": COPIED})
    assert r.status_code == 504
    assert r.json()["detail"].startswith("request took longer than")
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.slow
def test_every_backend_answers_here_with_the_routes_bytes(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(Settings(store=store_url))) as c:
        assert c.post("/ingest", json={"id": "harbour", "text": ARCHIVED_EN}).status_code == 200
        fast, routed, runs = _both_ways(c, monkeypatch, json={"text": f"{COPIED}\n\n{UNRELATED_EN}"})
        assert runs == 1
        assert fast.status_code == routed.status_code == 200
        assert fast.content == routed.content
        assert fast.json()["paragraphs"][0]["matches"][0]["document_id"] == "harbour"


def test_reads_that_need_a_key_are_the_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(store=f"sqlite:///{tmp_path}/keys.db", api_keys=["s3cret"], auth_reads=True)
    with TestClient(create_app(settings)) as c:
        counted = Counted(monkeypatch)
        assert c.post("/check", json={"text": COPIED}).status_code == 401
        ok = c.post("/check", json={"text": COPIED}, headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert counted.runs == 0


def test_the_access_log_and_metrics_name_the_route(
    archive_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def answered() -> float:
        labels = {"method": "POST", "route": "/check", "status": "200"}
        return REGISTRY.get_sample_value("paradup_http_requests_total", labels) or 0.0

    before = answered()
    counted = Counted(monkeypatch)
    assert archive_client.post("/check", json={"text": COPIED}).status_code == 200
    assert counted.runs == 1
    assert answered() == before + 1


@pytest.mark.slow
def test_a_real_server_answers_a_body_sent_in_pieces(tmp_path: Path) -> None:
    def pieces() -> Iterator[bytes]:
        text = f"{COPIED}\n\n{UNRELATED_EN}\n\n{COPIED}".encode()
        for at in range(0, len(text), 7):
            yield text[at : at + 7]

    with Server(f"sqlite:///{tmp_path}/live.db") as server:
        ingest = httpx.post(server.url + "/ingest", json={"id": "harbour", "text": ARCHIVED_EN}, timeout=30)
        assert ingest.status_code == 200
        headers = {"content-type": "text/plain"}
        chunked = httpx.post(server.url + "/check", content=pieces(), headers=headers, timeout=30)
        whole = httpx.post(server.url + "/check", content=b"".join(pieces()), headers=headers, timeout=30)
        assert chunked.status_code == whole.status_code == 200
        assert chunked.content == whole.content
        answer = chunked.json()["paragraphs"]
        assert answer[0]["matches"][0]["document_id"] == "harbour"
        assert answer[-1]["repeat_of"] == 0
