"""The common ``POST /check`` answered below FastAPI's routing.

Most checks a CMS sends are the simple case: an article of at most
``OFF_LOOP_BYTES``, raw or JSON, no query parameters, no ``ingest_as``, no
read key required. For them FastAPI's request handling (routing, dependency
resolution, the request and response objects) was ~0.26 ms of worker CPU a
request, a tenth of a check (cProfile of uvicorn serving ``/check``). This
middleware sits inside the service's own middlewares (timeouts, limits,
logging, security headers all still apply) and answers that case with the
route's own functions, on the loop or in a worker thread as the route
would, so the answer is the same bytes.

Anything else goes to the FastAPI route with the body already read, and
answers exactly as it always did. A check that fails here is answered by
the app's handler for its exception, as the route's would be.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.body import OFF_LOOP_BYTES, media_type
from app.api.routes import check as check_routes
from app.api.routes.check import INLINE_MAX_CHARS, JSON, parse_check_body, run_check
from app.api.schemas import CheckRequest
from app.api.work import run_work
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
        found = self._check(scope, raw)
        if found is None:
            await self.app(scope, _replay(raw, False, None, receive), send)
            return
        request, service, settings, parsed = found
        scope["route"] = self._route
        try:
            if service.store_is_local and len(parsed.text) <= INLINE_MAX_CHARS:
                # One turn of the loop first, as the route does: a request
                # already past its timeout is answered 504 by Observe first.
                await asyncio.sleep(0)
                body = run_check(request, service, settings, parsed)
            else:
                body = await run_work(request, run_check, request, service, settings, parsed)
        except Exception as exc:
            # The app's own handler (a store failure's 503, a deadline's
            # 504) answers, as it does for the route: run twice, a check
            # that waited on a store until it failed would wait twice.
            handler = _handler(scope, exc)
            if handler is None:
                raise
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, _replay(raw, False, None, receive), send)
            return
        head = [(b"content-length", str(len(body)).encode()), (b"content-type", JSON.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": body})

    def _check(self, scope: Scope, raw: bytes) -> tuple[Request, Service, Settings, CheckRequest] | None:
        """What the check here needs, or None when the route must answer."""
        if self._route is None:
            self._route = _check_route()
        state = getattr(scope.get("app"), "state", None)
        settings: Settings | None = getattr(state, "settings", None)
        service: Service | None = getattr(state, "service", None)
        if settings is None or service is None or settings.auth_reads:
            return None
        request = Request(scope)
        kind, charset = media_type(request)
        if kind not in _PLAIN:
            return None
        try:
            parsed = parse_check_body(kind, charset, raw, None, None)
        except Exception:
            return None
        if parsed.ingest_as is not None:
            return None
        return request, service, settings, parsed


def _handler(scope: Scope, exc: Exception) -> Callable[[Request, Exception], Any] | None:
    """The app's exception handler for ``exc``, looked up by its classes as
    Starlette's exception middleware does."""
    handlers = getattr(scope.get("app"), "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls in handlers:
            handler: Callable[[Request, Exception], Any] = handlers[cls]
            return handler
    return None


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
