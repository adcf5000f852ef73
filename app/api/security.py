"""Security headers on every answer, and the content security policies of
the two HTML pages (the review page and the API docs).

Both pages load only their own files from this service: no inline script
or style, no CDN, and no framing by another site.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NO_FRAMING = "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# JSON, metrics and errors: nothing to run, nothing to frame.
API_CSP = f"default-src 'none'; {_NO_FRAMING}"
REVIEW_CSP = f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; {_NO_FRAMING}"
# Swagger UI's stylesheet draws its icons as data: SVG images.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    f"img-src 'self' data:; {_NO_FRAMING}"
)

_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
)


class SecurityHeaders:
    """Adds the headers above to every response, and the API's CSP to any
    response that did not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS:
                    headers[name] = value
                headers.setdefault("content-security-policy", API_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)
