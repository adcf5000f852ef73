from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from app.api.auth import ReadAccess
from app.api.deps import ServiceDep
from app.api.observability import render_metrics
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


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    body, content_type = await run_in_threadpool(render_metrics, service)
    return Response(body, media_type=content_type)


@router.get("/stats", response_model=StatsOut)
async def stats(service: ServiceDep, _: ReadAccess) -> StatsOut:
    s = await run_in_threadpool(service.stats)
    return StatsOut(documents=s.documents, paragraphs=s.paragraphs, **s.extra)
