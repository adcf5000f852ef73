"""Answers a real server writes before (or instead of) the app's: a head
too slow, one connection too many, a head the parser refuses, a body that
stops arriving. Each is JSON with the security headers of every answer.
Nothing waits on a clock but the server's own (short) timeouts."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.api.security import API_CSP
from tests.conftest import Server
from tests.test_server_limits import HANG, json_answer, read_until_eof

ENV = {
    "PARADUP_HEADER_TIMEOUT": "0.5",
    "PARADUP_BODY_TIMEOUT": "0.5",
    # Without the body timeout a stalled body would wait for this: a 504.
    "PARADUP_REQUEST_TIMEOUT": "5",
    "PARADUP_MAX_CONNECTIONS": "3",
    "PARADUP_KEEP_ALIVE_TIMEOUT": "600",
}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store: Path = tmp_path_factory.mktemp("protocol") / "index.db"
    with Server(f"sqlite:///{store}", env=ENV) as s:
        s.client.close()  # its keep-alive connection would count against the limit
        yield s  # type: ignore[misc]


def exchange(server: Server, raw: bytes) -> tuple[int, dict[str, str], object]:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(raw)
        return json_answer(read_until_eof(sock))


def assert_secured(headers: dict[str, str]) -> None:
    """The headers every answer carries (json_answer lower-cases them)."""
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "deny"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == API_CSP.lower()


MALFORMED = {
    "a query string over the parser's limit": b"GET /stats?"
    + b"&".join(b"exclude_ids=document-%d" % i for i in range(20_000))
    + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "two Content-Length headers": b"POST /check HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 5\r\nContent-Length: 6\r\n\r\na b c",
    "Content-Length with chunked": b"POST /check HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\na b c\r\n0\r\n\r\n",
    "a raw non-ASCII byte in the path": b"GET /documents/caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n",
    "a NUL in the method": b"GE\x00T /health HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_head_the_parser_refuses_is_answered_400_json_with_the_security_headers(
    server: Server, raw: bytes
) -> None:
    status, headers, body = exchange(server, raw)
    assert status == 400 and isinstance(body, dict) and body["detail"]
    assert_secured(headers)


def test_a_head_too_slow_is_answered_408_with_the_security_headers(server: Server) -> None:
    status, headers, body = exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert (status, body) == (408, {"detail": "request head not received within 0.5 s"})
    assert_secured(headers)


def test_a_connection_over_the_limit_is_answered_503_with_the_security_headers(server: Server) -> None:
    held = []
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.settimeout(HANG)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        held.append(sock)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as extra:
            status, headers, body = json_answer(read_until_eof(extra))
    finally:
        for sock in held:
            sock.close()
    assert (status, body) == (503, {"detail": "more than 3 open connections: retry later"})
    assert_secured(headers)


STALLED = {
    "a body shorter than its Content-Length": b"POST /check HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 100\r\n\r\na b c",
    "a chunk shorter than its announced size": b"POST /check HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\na b c",
    "an ingest body that stops": b"POST /ingest HTTP/1.1\r\nHost: x\r\n"
    b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id": "s1", "te',
}


@pytest.mark.parametrize("raw", STALLED.values(), ids=STALLED.keys())
def test_a_body_that_stops_arriving_is_answered_408_and_the_connection_closed(
    server: Server, raw: bytes
) -> None:
    # read_until_eof returns only once the server closed the connection.
    status, headers, body = exchange(server, raw)
    assert (status, body) == (408, {"detail": "request body incomplete: nothing more arrived within 0.5 s"})
    assert_secured(headers)
    assert headers["connection"] == "close"
    # On a connection of its own: the fixture's client would hold one open.
    metrics = httpx.get(f"{server.url}/metrics", headers={"connection": "close"}).text
    assert re.search(r"^paradup_work_in_flight 0\.0$", metrics, re.M)  # the work never started
