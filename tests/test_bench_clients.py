"""The load benchmark's one-connection clients, against a real HTTP server
(the standard library's, on a free port): both clients send every body
they are given, on one connection each, and count what was not a 200."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from benchmarks.load.clients import CLIENTS, floor, one_connection, sequential


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the service answers
    seen: ClassVar[list[tuple[str, str, bytes, int]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        status = 422 if b"refuse" in body else 200
        self._answer(status, body)

    def do_GET(self) -> None:
        self._answer(200, b"")

    def _answer(self, status: int, body: bytes) -> None:
        # The client port tells connections apart: one per client run.
        self.seen.append((self.command, self.path, body, self.client_address[1]))
        out = json.dumps({"ok": status == 200}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("client", CLIENTS)
def test_each_client_posts_every_body_in_turn_on_one_connection(server: str, client: str) -> None:
    bodies = [b'{"text": "one"}', b'{"text": "two"}', b'{"text": "refuse me"}']
    latencies, errors = sequential(server, bodies, 7, client)
    assert len(latencies) == 7 and all(ms > 0 for ms in latencies)
    assert errors == 2  # the third body, at requests 3 and 6, is refused
    sent = [(m, p, b) for m, p, b, _ in _Recorder.seen]
    assert sent == [("POST", "/check", bodies[i % 3]) for i in range(7)]
    assert len({port for *_, port in _Recorder.seen}) == 1


@pytest.mark.parametrize("client", CLIENTS)
def test_the_floor_is_health_on_one_connection(server: str, client: str) -> None:
    assert len(floor(server, 5, client)) == 5
    assert [(m, p) for m, p, _, _ in _Recorder.seen] == [("GET", "/health")] * 5


def test_one_connection_alternates_the_clients_over_the_same_bodies(server: str) -> None:
    bodies = [f'{{"text": "article {i}"}}'.encode() for i in range(8)]
    found = one_connection(server, bodies, 8, blocks=4)
    assert set(found) == set(CLIENTS)
    for client in CLIENTS:
        assert found[client]["count"] == 8 and found[client]["errors"] == 0
        assert found[client]["client"] == client and found[client]["health_p50_ms"] > 0
    posted = [b for m, _, b, _ in _Recorder.seen if m == "POST"]
    # Each client sent every body once: the blocks rotate through them.
    assert sorted(posted) == sorted(bodies * 2)
