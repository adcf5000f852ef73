"""The OpenAPI document, with the request bodies the routes parse themselves.

/check and /ingest read their bodies by hand (raw text and NDJSON are
accepted too), so FastAPI does not see their models; they are added to the
components here, which the routes' ``requestBody`` entries refer to.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api.schemas import AllowIn, CheckRequest, DocumentIn, IngestBatch

HAND_PARSED: tuple[type[BaseModel], ...] = (CheckRequest, DocumentIn, IngestBatch, AllowIn)


def install(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _, defs = models_json_schema(
                [(model, "validation") for model in HAND_PARSED],
                ref_template="#/components/schemas/{model}",
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs["$defs"])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
