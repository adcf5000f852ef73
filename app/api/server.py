"""The HTTP protocol uvicorn serves with: its own, with limits uvicorn lacks.

- A request head (request line and headers) must arrive within
  ``PARADUP_HEADER_TIMEOUT`` seconds of the connection opening or of the
  request's first byte, or the connection is answered 408 and closed: a
  client trickling headers cannot hold a connection for ever.
- At most ``PARADUP_MAX_CONNECTIONS`` connections are open at once per
  worker; one more is answered 503 and closed.
- Requests the parser refuses (a malformed or oversized head) are answered
  with a JSON ``detail`` like every other error, not uvicorn's plain text.
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        self.transport.close()
