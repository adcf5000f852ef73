"""Long answers written a slice at a time.

A check answer can run to tens of megabytes. Handed to the transport in one
write, it is copied into the transport's buffer at once, on the event loop;
in slices, each write waits for the socket to drain (uvicorn's flow control),
so the loop copies a slice at a time and serves other requests in between.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

SLICE_BYTES = 256 * 1024


class JsonBytes(Response):
    """Already serialised JSON, sent in slices of ``SLICE_BYTES``."""

    media_type = "application/json"

    def __init__(self, content: bytes, status_code: int = 200) -> None:
        super().__init__(content, status_code)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        body = self.body
        for start in range(0, max(len(body), 1), SLICE_BYTES):
            end = start + SLICE_BYTES
            await send({"type": "http.response.body", "body": body[start:end], "more_body": end < len(body)})
