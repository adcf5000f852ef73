"""Limits a real server enforces (uvicorn's protocol, worker threads, the
access log), each proved on a real socket. Nothing waits on a clock: every
wait polls for a condition, with generous timeouts that only bound a hang."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.live_server import LiveServer

HANG = 120.0  # seconds a socket may wait before the test calls the server hung


def heavy_article(paragraphs: int = 1000, words: int = 700) -> str:
    """By default close to the heaviest article the default limits admit:
    1,000 paragraphs (the paragraph limit), about 4.9 MB (under the 5 MiB
    body limit), near-duplicates of each other so that every paragraph has
    the most candidates."""
    base = [f"w{(i * 7919) % 4001}" for i in range(words)]
    out = []
    for k in range(paragraphs):
        edited = list(base)
        edited[k % words] = f"edit{k}"
        out.append(" ".join(edited))
    return "\n\n".join(out)


def read_until_eof(sock: socket.socket) -> bytes:
    sock.settimeout(HANG)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def json_answer(raw: bytes) -> tuple[int, dict[str, str], object]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def metric(server: LiveServer, name: str) -> float:
    """Sum of a metric's samples (all label values) in /metrics."""
    text = server.client.get("/metrics").text
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def poll(condition: object, what: str) -> None:
    deadline = time.monotonic() + HANG
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    env: dict[str, str] = getattr(request, "param", {})
    with Server(f"sqlite:///{tmp_path}/index.db", env=env) as s:
        yield s  # type: ignore[misc]


@pytest.mark.parametrize("server", [{"PARADUP_HEADER_TIMEOUT": "0.5"}], indirect=True)
def test_a_connection_trickling_its_head_is_answered_408_and_closed(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        status, headers, body = json_answer(read_until_eof(sock))
    assert status == 408
    assert headers["content-type"] == "application/json"
    assert body == {"detail": "request head not received within 0.5 s"}
    assert server.client.get("/health").status_code == 200  # a complete head is unaffected


@pytest.mark.parametrize(
    "server", [{"PARADUP_MAX_CONNECTIONS": "2", "PARADUP_KEEP_ALIVE_TIMEOUT": "600"}], indirect=True
)
def test_a_connection_over_the_limit_is_answered_503_and_closed(server: Server) -> None:
    server.client.close()  # its keep-alive connection would count
    held = []
    for _ in range(2):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.settimeout(HANG)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")  # accepted and kept alive
        held.append(sock)
    with socket.create_connection(("127.0.0.1", server.port)) as extra:
        # Answered as soon as it is accepted (sending first could race the
        # close into a connection reset).
        status, headers, body = json_answer(read_until_eof(extra))
    assert status == 503 and headers["content-type"] == "application/json"
    assert body == {"detail": "more than 2 open connections: retry later"}
    for sock in held:
        sock.close()


def test_a_request_head_the_parser_refuses_is_answered_json(server: Server) -> None:
    query = "&".join(f"exclude_ids=document-{i}" for i in range(20_000))
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            f"POST /check?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            "Content-Length: 5\r\n\r\na b c".encode()
        )
        status, headers, body = json_answer(read_until_eof(sock))
    assert status == 400 and headers["content-type"] == "application/json"
    assert isinstance(body, dict) and "detail" in body


def test_no_log_line_holds_a_key_from_the_query_string_or_the_authorization_header(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    args = ["app.cli", "serve", "--workers", "1", "--log-level", "info"]
    env = {"PARADUP_STORE": f"sqlite:///{tmp_path}/index.db", "PARADUP_LOG_LEVEL": "info"}
    with log.open("wb") as output:
        live = LiveServer(args, {**env, "PARADUP_API_KEY": "key-in-header-5e1f"}, quiet=False)
        live.output = output
        with live:
            headers = {"authorization": "Bearer key-in-header-5e1f", "x-request-id": "probe-1"}
            answer = live.client.get("/stats?api_key=key-in-query-9c3a", headers=headers)
            assert answer.status_code == 200
            poll(lambda: "probe-1" in log.read_text(), "the request's access log line")
    text = log.read_text()
    assert '"path": "/stats"' in text
    assert "key-in-query" not in text and "key-in-header" not in text


def _post_in_thread(server: Server, text: str, answers: list[int]) -> threading.Thread:
    def post() -> None:
        with httpx.Client(base_url=server.url, timeout=600) as client:
            answers.append(client.post("/check", json={"text": text}).status_code)

    thread = threading.Thread(target=post)
    thread.start()
    return thread


# The six checks queue behind two worker threads: on a loaded machine the last
# ones would outlive the default 30 s request timeout (504), which is not
# what this test is about, so the timeout only bounds a hang here.
@pytest.mark.parametrize("server", [{"PARADUP_REQUEST_TIMEOUT": "600"}], indirect=True)
def test_health_and_ready_answer_while_the_heaviest_checks_run(server: Server) -> None:
    text = heavy_article()
    answers: list[int] = []
    # Six of them, for two worker threads: some are running and some queued
    # for seconds, far longer than /health, /ready and /metrics take.
    threads = [_post_in_thread(server, text, answers) for _ in range(6)]
    poll(
        lambda: answers or metric(server, "paradup_work_in_flight") >= 1,
        "a check running in a worker thread",
    )
    assert not answers, f"a check ended before it was seen running: {answers}"
    assert server.client.get("/health").status_code == 200
    assert server.client.get("/ready").status_code == 200
    # Still running: /health and /ready did not wait for the checks to end.
    assert metric(server, "paradup_work_in_flight") >= 1 and len(answers) < 6
    for thread in threads:
        thread.join()
    assert answers == [200] * 6


# Limits raised so that the check would run ten times the timeout or more:
# it cannot finish in time, and its body is read long before the timeout.
STOPPED = {
    "PARADUP_REQUEST_TIMEOUT": "4",
    "PARADUP_MAX_PARAGRAPHS": "20000",
    "PARADUP_MAX_BODY_BYTES": str(64 * 1024 * 1024),
}


@pytest.mark.parametrize("server", [STOPPED], indirect=True)
def test_a_check_past_the_timeout_answers_504_and_its_work_stops(server: Server) -> None:
    answer = server.client.post("/check", json={"text": heavy_article(20_000, 300)})
    assert answer.status_code == 504
    assert answer.json() == {"detail": "request took longer than 4 s"}
    # The worker thread ended at a checkpoint rather than finishing the check.
    poll(lambda: metric(server, "paradup_work_stopped_total") >= 1, "the work stopped")
    poll(lambda: metric(server, "paradup_work_in_flight") == 0, "no work left running")
    assert server.client.get("/health").status_code == 200
