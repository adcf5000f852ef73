"""Request-scoped access to what the lifespan opened."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.engine import Service
from app.settings import Settings


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[Service, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
