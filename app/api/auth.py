"""API keys: ``Authorization: Bearer <key>`` on writes (and on reads when
``PARADUP_AUTH_READS`` is set). Keys are compared in constant time and never
logged or echoed."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from app.api.deps import SettingsDep
from app.api.errors import ApiError
from app.settings import Settings


def _authorised(request: Request, settings: SettingsDep) -> None:
    if not settings.api_keys:
        return
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "missing API key: send 'Authorization: Bearer <key>'", bearer=True)
    given = presented.strip().encode()
    # Every key is compared (no early exit) so timing reveals nothing.
    valid = False
    for key in settings.api_keys:
        valid |= hmac.compare_digest(given, key.get_secret_value().encode())
    if not valid:
        raise ApiError(401, "invalid API key", bearer=True)


async def require_write_key(request: Request, settings: SettingsDep) -> None:
    _authorised(request, settings)


def authorise_write(request: Request, settings: Settings) -> None:
    """The write-key check, for work already running off the event loop."""
    _authorised(request, settings)


async def require_read_key(request: Request, settings: SettingsDep) -> None:
    if settings.auth_reads:
        _authorised(request, settings)


WriteAccess = Annotated[None, Depends(require_write_key)]
ReadAccess = Annotated[None, Depends(require_read_key)]
