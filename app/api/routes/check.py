from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.api.auth import ReadAccess, authorise_write
from app.api.body import OFF_LOOP_BYTES, RAW_FORMATS, decode, media_type, parse_json, require_json
from app.api.deps import ServiceDep, SettingsDep
from app.api.observability import CHECKED
from app.api.schemas import TEXT_PATTERN, CheckRequest, CheckResponse
from app.api.work import run_work
from app.engine import DocumentInput, IngestResult, ParagraphResult, Service
from app.engine.cancel import NEVER, Deadline
from app.engine.check_report import check_answer
from app.settings import Settings

router = APIRouter(tags=["check"])
JSON = "application/json"

# A short article is checked on the event loop itself: handing it to a
# thread and back cost about 2 ms per request (measured with wrk -c1: 8.2 ->
# 5.8 ms for a 10-paragraph article, 3.6 -> 1.7 ms for a one-liner), more than
# the check, and under the GIL a thread adds no parallelism. Anything longer
# (its cost on the loop would hold /health), and every check of a store behind
# a network, goes to a worker thread with the request's deadline.
INLINE_MAX_CHARS = 4_000

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CheckRequest"}},
            "text/plain": {"schema": {"type": "string", "pattern": TEXT_PATTERN}},
            "text/html": {"schema": {"type": "string", "pattern": TEXT_PATTERN}},
        },
    }
}


@router.post(
    "/check",
    response_model=CheckResponse,
    openapi_extra=_BODY,
    summary="Find paragraphs that repeat the article itself or the archive",
    responses={
        400: {"description": "body not decodable in its charset"},
        401: {"description": "missing or invalid API key (when reads need one)"},
        413: {"description": "body too large"},
        415: {"description": "unsupported media type"},
        422: {"description": "invalid request"},
    },
)
async def check(
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    _: ReadAccess,
    threshold: Annotated[
        float | None,
        Query(gt=0.0, le=1.0, allow_inf_nan=False, description="for raw text/plain or text/html bodies"),
    ] = None,
    exclude_ids: Annotated[list[str] | None, Query(description="for raw bodies")] = None,
) -> Response:
    require_json(request, allowed_raw=True)
    kind, charset = media_type(request)
    raw = await request.body()
    if len(raw) > OFF_LOOP_BYTES:
        # Decoded, validated, checked and encoded in one worker thread: a
        # thread hop costs about a millisecond, three of them cost three.
        work = (request, service, settings, kind, charset, raw, threshold, exclude_ids)
        return Response(await run_work(request, _parsed_and_checked, *work), media_type=JSON)
    body = parse_check_body(kind, charset, raw, threshold, exclude_ids)
    if body.ingest_as is None and service.store_is_local and len(body.text) <= INLINE_MAX_CHARS:
        # One turn of the loop first: a request already past its timeout
        # (Observe's) is answered 504 there, before any work; the check
        # itself, a few milliseconds, then runs to its end.
        await asyncio.sleep(0)
        return Response(run_check(request, service, settings, body), media_type=JSON)
    return Response(await run_work(request, run_check, request, service, settings, body), media_type=JSON)


def parse_check_body(
    kind: str, charset: str, raw: bytes, threshold: float | None, exclude_ids: list[str] | None
) -> CheckRequest:
    if kind in RAW_FORMATS:
        return CheckRequest(
            text=decode(raw, charset),
            format="html" if kind == "text/html" else "text",
            threshold=threshold,
            exclude_ids=exclude_ids or [],
        )
    return parse_json(CheckRequest, raw)


def _parsed_and_checked(
    request: Request,
    service: Service,
    settings: Settings,
    kind: str,
    charset: str,
    raw: bytes,
    threshold: float | None,
    exclude_ids: list[str] | None,
    deadline: Deadline = NEVER,
) -> bytes:
    body = parse_check_body(kind, charset, raw, threshold, exclude_ids)
    return run_check(request, service, settings, body, deadline)


def run_check(
    request: Request, service: Service, settings: Settings, body: CheckRequest, deadline: Deadline = NEVER
) -> bytes:
    """The encoded answer to a parsed check request, publish flow included."""
    archive_filter = body.filters.to_filter() if body.filters else None
    if body.ingest_as is None:
        args = (body.text, body.format, body.threshold, body.containment_threshold, body.exclude_ids)
        return _answer(service.check(*args, archive_filter, deadline), None)
    authorise_write(request, settings)
    doc = DocumentInput(body.ingest_as, body.text, body.format, body.metadata)
    results, ingested = service.check_and_publish(
        doc,
        body.force,
        body.threshold,
        body.containment_threshold,
        body.exclude_ids,
        archive_filter,
        deadline,
    )
    return _answer(results, ingested)


def _answer(results: list[ParagraphResult], ingested: IngestResult | None) -> bytes:
    duplicates = sum(1 for r in results if r.matches)
    if duplicates:
        CHECKED.labels("duplicate").inc(duplicates)
    if len(results) > duplicates:
        CHECKED.labels("unique").inc(len(results) - duplicates)
    # Encoded here, in the thread for a long answer: tens of megabytes
    # encoded on the loop would hold it.
    return check_answer(results, ingested)
