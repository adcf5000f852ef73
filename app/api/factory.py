"""The application factory: settings in, a FastAPI app whose lifespan opens
the index store (and warms the hashing kernels) and closes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import errors, openapi
from app.api.limits import BodyLimit
from app.api.observability import Observe, configure_logging
from app.api.routes import allowlist, check, documents, health, review
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
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="paradup",
        version="0.1.0",
        summary="Near-duplicate paragraph detection for publishers",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    openapi.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Added last, so outermost: it times and logs even a 413 from BodyLimit.
    app.add_middleware(Observe, timeout=settings.request_timeout)
    for module in (check, documents, allowlist, health, review):
        app.include_router(module.router)
    return app
