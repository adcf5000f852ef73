"""The common ``POST /check`` answered below FastAPI's routing.

Most checks a CMS sends are the simple case: a short article, raw or JSON,
no query parameters, no ``ingest_as``, on the embedded store. For them the
route's work is a few milliseconds of check, and FastAPI's request handling
(routing, dependency resolution, the request and response objects) was
~0.3 ms more a request (cProfile of uvicorn serving ``/check``). This
middleware sits inside the service's own middlewares (timeouts, limits,
logging, security headers all still apply) and answers that case with the
route's own functions, so the answer is the same bytes.

Anything else, and any failure, goes to the FastAPI route with the body
already read: the route then answers, errors included, exactly as it
always did. A check that failed here is run again there: a check writes
nothing, so running it twice changes nothing but its cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.body import OFF_LOOP_BYTES, media_type
from app.api.routes import check as check_routes
from app.api.routes.check import INLINE_MAX_CHARS, JSON, parse_check_body, run_check
from app.engine import Service
from app.settings import Settings

_PLAIN = frozenset({"text/plain", "text/html", "application/json"})


class CheckFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # FastAPI's route for the check, found at the first request: its path
        # names the request in the access log and the metrics, as when the
        # router matches it.
        self._route: APIRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/check"
            or scope["method"] != "POST"
            or scope.get("query_string")
        ):
            await self.app(scope, receive, send)
            return
        parts: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: the route answers it as before
                await self.app(scope, _replay(b"".join(parts), True, message, receive), send)
                return
            part = message.get("body", b"")
            parts.append(part)
            size += len(part)
            more = message.get("more_body", False)
            if size > OFF_LOOP_BYTES:  # a long body is the route's to read, off the loop
                await self.app(scope, _replay(b"".join(parts), more, None, receive), send)
                return
        raw = b"".join(parts)
        answer = self._answer(scope, raw)
        if answer is None:
            await self.app(scope, _replay(raw, False, None, receive), send)
            return
        # One turn of the loop first, as the route does: a request already
        # past its timeout is answered 504 by Observe before any work.
        await asyncio.sleep(0)
        scope["route"] = self._route
        try:
            body = answer()
        except Exception:
            await self.app(scope, _replay(raw, False, None, receive), send)
            return
        head = [(b"content-length", str(len(body)).encode()), (b"content-type", JSON.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": body})

    def _answer(self, scope: Scope, raw: bytes) -> Callable[[], bytes] | None:
        """The check to run here, or None when the route must answer."""
        app = scope.get("app")
        if self._route is None:
            self._route = _check_route()
        state = getattr(app, "state", None)
        settings: Settings | None = getattr(state, "settings", None)
        service: Service | None = getattr(state, "service", None)
        if settings is None or service is None or settings.auth_reads or not service.store_is_local:
            return None
        request = Request(scope)
        kind, charset = media_type(request)
        if kind not in _PLAIN:
            return None
        try:
            parsed = parse_check_body(kind, charset, raw, None, None)
        except Exception:
            return None
        if parsed.ingest_as is not None or len(parsed.text) > INLINE_MAX_CHARS:
            return None
        return partial(run_check, request, service, settings, parsed)


def _check_route() -> APIRoute:
    for route in check_routes.router.routes:
        if isinstance(route, APIRoute) and route.path == "/check" and "POST" in (route.methods or ()):
            return route
    raise LookupError("the check route is not in app/api/routes/check.py")


def _replay(raw: bytes, more: bool, pending: Message | None, receive: Receive) -> Receive:
    """``receive`` for the route: the body read here (``more``: the rest is
    still to come), then the message that ended the reading, if any, then
    the connection's own."""
    queue: list[Message] = [{"type": "http.request", "body": raw, "more_body": more}]
    if pending is not None:
        queue.append(pending)

    async def replayed() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replayed
