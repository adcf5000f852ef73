"""Every failure answers JSON ``{"detail": ...}`` with a 4xx or 503 code."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.engine import InvalidDocument
from app.engine.cancel import Cancelled
from app.store import StoreBroken, StoreError, StoreUnavailable


class ApiError(Exception):
    def __init__(self, status: int, detail: str, bearer: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = {"www-authenticate": "Bearer"} if bearer else None


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities spelt as strings: an error that
    echoes the input must still be valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": json_safe(jsonable_encoder(exc.errors()))}, status_code=422)

    @app.exception_handler(Cancelled)
    async def _cancelled(request: Request, exc: Cancelled) -> JSONResponse:
        timeout = request.app.state.settings.request_timeout
        return JSONResponse({"detail": f"request took longer than {timeout:g} s"}, status_code=504)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(InvalidDocument)
    async def _invalid(_: Request, exc: InvalidDocument) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        body = {"detail": f"index store unavailable: {exc}", "retryable": True}
        return JSONResponse(body, status_code=503)

    @app.exception_handler(StoreBroken)
    async def _broken(_: Request, exc: StoreBroken) -> JSONResponse:
        # A server fault, not the client's: 503 like any store failure, but
        # marked so that clients stop retrying and alert a human instead.
        body = {"detail": f"index store failed: {exc}", "retryable": False}
        return JSONResponse(body, status_code=503)

    @app.exception_handler(StoreError)
    async def _store(_: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"index store error: {exc}"}, status_code=503)
