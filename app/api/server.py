"""The HTTP protocol uvicorn serves with: its own, with limits uvicorn lacks.

- A request head (request line and headers) must arrive within
  ``PARADUP_HEADER_TIMEOUT`` seconds of the connection opening or of the
  request's first byte, or the connection is answered 408 and closed: a
  client trickling headers cannot hold a connection for ever.
- At most ``PARADUP_MAX_CONNECTIONS`` connections are open at once per
  worker; one more is answered 503 and closed.
- Requests the parser refuses (a malformed or oversized head) are answered
  with a JSON ``detail`` like every other error, not uvicorn's plain text.
- A response's head and its body leave in one write (``HeadWithBody``):
  uvicorn writes them apart, and on loopback each write is a send that
  wakes the client (the two took ~12 % of a worker's time under wrk).
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.api.security import RAW_HEADERS
from app.settings import Settings

REASONS = {400: b"Bad Request", 408: b"Request Timeout", 503: b"Service Unavailable"}


@cache
def _limits() -> tuple[float, int]:
    settings = Settings()  # the worker's environment, like the app's own settings
    return settings.header_timeout, settings.max_connections


class Protocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout, self.max_connections = _limits()
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self.answer(503, f"more than {self.max_connections} open connections: retry later")
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]

    def send_400_response(self, msg: str) -> None:
        self.answer(400, msg)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self.head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_too_slow(self) -> None:
        self.head_timer = None
        if self.cycle is None or self.cycle.response_complete:
            self.answer(408, f"request head not received within {self.header_timeout:g} s")

    def answer(self, status: int, detail: str) -> None:
        """A JSON error written straight to the socket, then the connection closed."""
        if self.transport.is_closing():
            return
        body = json.dumps({"detail": detail}).encode()
        head = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [name + b": " + value + b"\r\n" for name, value in RAW_HEADERS]
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        self.transport.close()


class HeadWithBody:
    """The transport one response is written to: its first write (the head,
    or a 100 Continue) waits for the next one, made in the same turn of the
    event loop when the body follows at once, and the two go out as one.
    Anything held is written at the end of that turn at the latest (a HEAD
    answer has no body), and before a close."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._first:
            self._first = False
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
        elif self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held + data)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
