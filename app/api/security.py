"""Security headers on every answer, the content security policies of the
two HTML pages (the review page and the API docs), and the refusal of
browsers' cross-origin writes.

Both pages load only their own files from this service: no inline script
or style, no CDN, and no framing by another site.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
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


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_origin(method: str, headers: Headers) -> str | None:
    """Why a request is a browser's cross-origin write, or None.

    Any page an editor opens can make the browser POST to paradup: with no
    Content-Type (a Blob body) or text/plain, such a request needs no CORS
    preflight, and without an API key it would ingest. Browsers say where a
    request comes from (Sec-Fetch-Site, else Origin); other clients send
    neither and are not concerned.
    """
    if method in SAFE_METHODS:
        return None
    site = headers.get("sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site is {site!r}"
    origin = headers.get("origin")
    if origin is None:
        return None
    if origin != "null" and urlsplit(origin).netloc == headers.get("host"):
        return None
    return f"Origin {origin!r} is not this service"


class CrossOriginGuard:
    """Answers 403 to writes (any method but GET, HEAD, OPTIONS) that a
    browser sends from another origin."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reason = cross_origin(scope["method"], Headers(scope=scope))
            if reason is not None:
                detail = f"cross-origin request refused ({reason}): call paradup from a server or its pages"
                await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
