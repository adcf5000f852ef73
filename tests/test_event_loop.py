"""What runs on the event loop of a real uvicorn server, recorded by probes
(the thread each stage ran on), not timed: decoding and validating a large
body, and serialising a large answer, must run elsewhere so that /health and
/ready are answered while they go on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

import app.api.routes.check as check_route
from app.api.body import OFF_LOOP_BYTES
from app.api.factory import create_app
from app.api.schemas import CheckRequest, DocumentIn
from app.api.server import Protocol
from app.settings import Settings
from tests.live_server import free_port
from tests.test_server_limits import HANG, heavy_article, poll


class InProcessServer:
    """uvicorn serving the app in a thread of this process: probes patched in
    here see the server's own threads."""

    def __init__(self, tmp_path: Path) -> None:
        settings = Settings(store=f"sqlite:///{tmp_path}/index.db", log_level="warning")
        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings), port=self.port, http=Protocol, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="event-loop")
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> InProcessServer:
        self.thread.start()
        poll(lambda: self.server.started or not self.thread.is_alive(), "the server started")
        assert self.server.started
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(HANG)

    @property
    def loop_thread(self) -> int:
        assert self.thread.ident is not None
        return self.thread.ident


@pytest.fixture
def server(tmp_path: Path) -> Iterator[InProcessServer]:
    with InProcessServer(tmp_path) as s:
        yield s


@pytest.fixture
def parsed_on(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Threads the request models validated a JSON body on, in order."""
    threads: list[int] = []
    for model in (CheckRequest, DocumentIn):
        original = model.model_validate_json

        def probe(raw: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            threads.append(threading.get_ident())
            return _original(raw, *args, **kwargs)

        monkeypatch.setattr(model, "model_validate_json", probe)
    return threads


def test_a_large_body_is_validated_off_the_event_loop_a_small_one_on_it(
    server: InProcessServer, parsed_on: list[int]
) -> None:
    large = heavy_article(40, 700)
    assert len(large) > OFF_LOOP_BYTES
    with httpx.Client(base_url=server.url, timeout=HANG) as client:
        assert client.post("/check", json={"text": "a b c d e f g h"}).status_code == 200
        assert client.post("/check", json={"text": large}).status_code == 200
        assert client.post("/ingest", json={"id": "big", "text": large}).status_code == 200
        assert client.post("/check", content=large, headers={"content-type": "text/plain"}).status_code == 200
    small, large_check, large_ingest = parsed_on
    assert small == server.loop_thread  # the probe sees the loop when it runs there
    assert large_check != server.loop_thread
    assert large_ingest != server.loop_thread


def test_a_large_answer_is_serialised_off_the_event_loop(
    server: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered_on: list[int] = []
    original = check_route._answer

    def probe(*args: Any) -> bytes:
        rendered_on.append(threading.get_ident())
        return original(*args)

    monkeypatch.setattr(check_route, "_answer", probe)
    with httpx.Client(base_url=server.url, timeout=HANG) as client:
        answer = client.post("/check", json={"text": heavy_article(40, 700)})
    assert answer.status_code == 200 and len(answer.json()["paragraphs"]) == 40
    assert rendered_on and server.loop_thread not in rendered_on
