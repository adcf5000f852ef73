"""Request-scoped access to what the lifespan opened."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.engine import Service
from app.settings import Settings


# Coroutines, not plain functions: FastAPI runs a plain dependency in a
# worker thread, two thread hops per request (about 1 ms under load, more
# than a short check takes) for an attribute read.
async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[Service, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
