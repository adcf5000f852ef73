from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.auth import ReadAccess, WriteAccess
from app.api.body import off_loop, parse_json, require_json
from app.api.deps import ServiceDep
from app.api.errors import ApiError
from app.api.schemas import AllowCreated, AllowIn, AllowList, AllowOut

router = APIRouter(tags=["allowlist"])


@router.post(
    "/allowlist",
    response_model=AllowCreated,
    status_code=201,
    summary="Mark a phrase as fine to repeat: paragraphs matching it report no archive match",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AllowIn"}}},
        }
    },
    responses={401: {}, 413: {}, 415: {}, 422: {"description": "invalid or too short"}},
)
async def add(request: Request, service: ServiceDep, _: WriteAccess) -> AllowCreated:
    require_json(request, allowed_raw=False)
    raw = await request.body()
    body = await off_loop(raw, parse_json, AllowIn, raw)
    entry, status = await run_in_threadpool(service.allow, body.text, body.note)
    return AllowCreated(id=entry.id, text=entry.text, note=entry.note, status=status)


@router.get("/allowlist", response_model=AllowList)
async def entries(service: ServiceDep, _: ReadAccess) -> AllowList:
    found = await run_in_threadpool(service.allowlist)
    return AllowList(entries=[AllowOut(id=e.id, text=e.text, note=e.note) for e in found])


@router.delete("/allowlist/{entry_id:path}", status_code=204, responses={401: {}, 404: {}})
async def remove(entry_id: str, service: ServiceDep, _: WriteAccess) -> Response:
    if not await run_in_threadpool(service.disallow, entry_id):
        raise ApiError(404, f"no allowlist entry {entry_id!r}")
    return Response(status_code=204)
