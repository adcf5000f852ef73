"""A response's head and body leave in one write (app/api/server.py,
``HeadWithBody``), and nothing waits for a body that never comes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.api.server import HeadWithBody
from tests.conftest import Server
from tests.test_server_limits import HANG


class Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def one_turn(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_the_head_and_the_body_written_in_one_turn_are_one_write(loop: asyncio.AbstractEventLoop) -> None:
    sent = Recorder()
    transport = HeadWithBody(sent, loop)
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(memoryview(b'{"a": 1}'))
    transport.write(b"more")
    one_turn(loop)
    assert sent.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"a": 1}', b"more"]


def test_a_head_without_a_body_leaves_at_the_end_of_the_turn(loop: asyncio.AbstractEventLoop) -> None:
    sent = Recorder()
    transport = HeadWithBody(sent, loop)
    transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert sent.writes == []
    one_turn(loop)
    assert sent.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"]
    transport.write(b"late")
    assert sent.writes[-1] == b"late"


def test_a_close_writes_what_is_held_first(loop: asyncio.AbstractEventLoop) -> None:
    sent = Recorder()
    transport = HeadWithBody(sent, loop)
    transport.write(b"head")
    transport.close()
    assert (sent.writes, sent.closed, transport.is_closing()) == ([b"head"], True, True)
    one_turn(loop)
    assert sent.writes == [b"head"]


CHECKED = '{"text": "A paragraph long enough to be fingerprinted by the index, twice over."}'


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with Server(f"sqlite:///{tmp_path}/index.db") as s:
        yield s  # type: ignore[misc]


def _read_answers(sock: socket.socket, methods: list[str]) -> list[bytes]:
    """One HTTP answer per request method, read off a keep-alive connection
    (each head, then as many body bytes as its content-length says; none for
    HEAD)."""
    sock.settimeout(HANG)
    data = b""
    answers: list[bytes] = []
    while len(answers) < len(methods):
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            length = 0
            for line in data[:head_end].decode("latin-1").lower().split("\r\n")[1:]:
                name, _, value = line.partition(": ")
                if name == "content-length" and methods[len(answers)] != "HEAD":
                    length = int(value)
            end = head_end + 4 + length
            if len(data) >= end:
                answers.append(data[:end])
                data = data[end:]
                continue
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection before answering"
        data += chunk
    return answers


def test_a_real_server_answers_head_get_and_pipelined_requests_whole(server: Server) -> None:
    requests = [
        ("HEAD", "/health", ""),
        ("GET", "/health", ""),
        ("POST", "/check", CHECKED),
        ("GET", "/health", ""),
    ]
    raw = b"".join(
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
        for method, path, body in requests
    )
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(raw)  # pipelined: answered in order on one connection
        answers = _read_answers(sock, [method for method, _, _ in requests])
    statuses = [int(a.split(b" ", 2)[1]) for a in answers]
    assert statuses[1:] == [200, 200, 200]
    assert statuses[0] in (200, 405)  # HEAD: a head alone, whatever the route allows
    assert b'"paragraphs"' in answers[2]
