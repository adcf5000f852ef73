from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.auth import ReadAccess, WriteAccess
from app.api.body import NDJSON_TYPES, media_type, off_loop, parse_documents, parse_ndjson, require_json
from app.api.deps import ServiceDep, SettingsDep
from app.api.errors import ApiError
from app.api.observability import INGESTED
from app.api.schemas import (
    DocumentOut,
    IngestedOut,
    IngestResponse,
    StoredParagraphOut,
)
from app.api.work import run_work
from app.engine import DocumentInput, Service

router = APIRouter(tags=["documents"])

_INGEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/DocumentIn"},
                        {"$ref": "#/components/schemas/IngestBatch"},
                    ]
                }
            },
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "one DocumentIn JSON object per line"}
            },
        },
    }
}


@router.post(
    "/ingest",
    response_model=IngestResponse,
    openapi_extra=_INGEST_BODY,
    summary="Add published documents to the archive (all of a batch, or none)",
    responses={
        401: {"description": "missing or invalid API key"},
        413: {"description": "body too large"},
        415: {"description": "not JSON"},
        422: {"description": "invalid documents; nothing was written"},
    },
)
async def ingest(
    request: Request, service: ServiceDep, settings: SettingsDep, _: WriteAccess
) -> IngestResponse:
    kind, _charset = media_type(request)
    raw = await request.body()
    if kind in NDJSON_TYPES:
        docs = await off_loop(raw, parse_ndjson, raw)
    else:
        require_json(request, allowed_raw=False)
        docs = await off_loop(raw, parse_documents, raw)
    if len(docs) > settings.max_batch_documents:
        raise ApiError(
            422, f"{len(docs)} documents in one request; the limit is {settings.max_batch_documents}"
        )
    results = await run_work(
        request, service.ingest, [DocumentInput(d.id, d.text, d.format, d.metadata) for d in docs]
    )
    # One increment per status, not per document: with several workers each
    # one writes the metric's shared file (a 1,000-document batch did 1,000).
    for status, count in Counter(r.status for r in results).items():
        INGESTED.labels(status).inc(count)
    return IngestResponse(documents=[IngestedOut(**r.__dict__) for r in results])


@router.get(
    "/documents/{document_id:path}",
    response_model=DocumentOut,
    responses={401: {}, 404: {"description": "unknown"}},
    summary="A stored document; the id percent-encoded whole (a slash as %2F) or as it is",
)
async def get_document(document_id: str, service: ServiceDep, _: ReadAccess) -> DocumentOut:
    return await _document(document_id, service)


@router.get(
    "/documents",
    response_model=DocumentOut,
    responses={401: {}, 404: {"description": "unknown"}},
    summary="A stored document, its id in the query string (any id, even '.' or '..')",
)
async def get_document_by_query(
    service: ServiceDep,
    _: ReadAccess,
    document_id: Annotated[str, Query(alias="id", min_length=1, description="the document's id")],
) -> DocumentOut:
    # Clients (browsers first) resolve "." and ".." path segments, even
    # percent-encoded, before sending: in the query string an id arrives as is.
    return await _document(document_id, service)


async def _document(document_id: str, service: Service) -> DocumentOut:
    doc = await run_in_threadpool(service.get, document_id)
    if doc is None:
        raise ApiError(404, f"no document with id {document_id!r}")
    return DocumentOut(
        id=doc.id,
        metadata=doc.metadata,
        paragraphs=[StoredParagraphOut(index=i, text=t) for i, t in enumerate(doc.paragraphs)],
    )


@router.delete(
    "/documents/{document_id:path}", status_code=204, responses={401: {}, 404: {"description": "unknown"}}
)
async def delete_document(document_id: str, service: ServiceDep, _: WriteAccess) -> Response:
    if not await run_in_threadpool(service.delete, document_id):
        raise ApiError(404, f"no document with id {document_id!r}")
    return Response(status_code=204)
