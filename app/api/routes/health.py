from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from app.api.deps import ServiceDep
from app.api.schemas import Health, StatsOut

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, summary="Liveness: the process answers")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready", response_model=Health, summary="Readiness: the index store answers", responses={503: {}}
)
async def ready(service: ServiceDep) -> Health:
    await run_in_threadpool(service.store.ping)
    return Health(status="ok")


@router.get("/stats", response_model=StatsOut)
async def stats(service: ServiceDep) -> StatsOut:
    s = await run_in_threadpool(service.stats)
    return StatsOut(documents=s.documents, paragraphs=s.paragraphs, **s.extra)
