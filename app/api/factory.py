"""The application factory: settings in, a FastAPI app whose lifespan opens
the index store (and warms the hashing kernels) and closes it."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import errors, openapi
from app.api.fast_check import CheckFastPath
from app.api.limits import BodyLimit
from app.api.observability import Observe, configure_logging
from app.api.routes import allowlist, check, documents, health, review
from app.api.security import CrossOriginGuard, SecurityHeaders
from app.api.work import work_limiter
from app.engine import Service
from app.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_format, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service.open(settings)
        app.state.service = service
        app.state.work_limiter = work_limiter(settings.work_threads)
        # The objects of the imports (numba, pydantic, FastAPI: about 100,000)
        # live for ever: frozen, a full collection during a heavy request no
        # longer walks them while holding the GIL (measured 40-60 ms each).
        gc.freeze()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="paradup",
        version="0.1.0",
        summary="Near-duplicate paragraph detection for publishers",
        lifespan=lifespan,
        # Served by app/api/routes/review.py from a packaged Swagger UI, not a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    errors.install(app)
    openapi.install(app)
    # Innermost: the common check, answered inside every middleware below.
    app.add_middleware(CheckFastPath)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout)
    # Outside BodyLimit: a cross-origin write is refused before its body is read.
    app.add_middleware(CrossOriginGuard)
    # Outside those two: it times and logs even a 413 or a 403.
    app.add_middleware(Observe, timeout=settings.request_timeout)
    # Outermost, so that Observe's 504s carry the security headers too.
    app.add_middleware(SecurityHeaders)
    for module in (check, documents, allowlist, health, review):
        app.include_router(module.router)
    return app
