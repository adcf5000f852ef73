"""Request and response bodies of the public HTTP API.

These shapes are a contract with CMS integrations: fields may be added,
never renamed, removed or given another meaning.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.engine import ArchiveFilter

# The check report and the document record are shared with the CLI: they
# live in the engine and are part of this contract all the same.
from app.engine.check_report import CheckResponse as CheckResponse
from app.engine.check_report import IngestedOut as IngestedOut
from app.engine.check_report import MatchOut as MatchOut
from app.engine.check_report import ParagraphOut as ParagraphOut
from app.engine.check_report import check_response as check_response
from app.engine.filters import as_datetime
from app.engine.records import ID_PATTERN, STRICT, TEXT, finite_metadata
from app.engine.records import TEXT_PATTERN as TEXT_PATTERN
from app.engine.records import DocumentIn as DocumentIn
from app.engine.records import no_control_chars as _no_control_chars
from app.text import Format

Scalar = str | int | float | bool


class ArchiveFilterIn(BaseModel):
    model_config = STRICT

    since: datetime | date | None = Field(None, description="archived on or after (metadata date field)")
    until: datetime | date | None = Field(None, description="archived on or before (metadata date field)")
    date_field: str = Field("published", min_length=1, description="metadata field holding the date")
    metadata: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict, description="metadata values the archived document must have (a list: any of)"
    )

    def to_filter(self) -> ArchiveFilter:
        until = as_datetime(self.until)
        if until is not None and not isinstance(self.until, datetime):
            # a date alone means the whole of that day
            until += timedelta(days=1) - timedelta(microseconds=1)
        return ArchiveFilter(as_datetime(self.since), until, self.date_field, self.metadata)


class CheckRequest(BaseModel):
    model_config = STRICT

    text: str = TEXT
    format: Format = "text"
    threshold: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="similarity (Jaccard) threshold; default from settings. The index's LSH "
        "bands (PARADUP_LSH_BANDS, 27x3) propose pairs reliably from about 0.5 up, with shared "
        "runs of words proposing more: well below that, recall is not guaranteed",
    )
    containment_threshold: float | None = Field(None, gt=0.0, le=1.0)
    exclude_ids: list[str] = Field(default_factory=list, description="archived documents to ignore")
    filters: ArchiveFilterIn | None = Field(None, description="restrict archive matches by metadata")
    ingest_as: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="publish flow: ingest the article under this id when it is clean (or with "
        "force); its own archived version is left out of the check",
        json_schema_extra={"pattern": ID_PATTERN},
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="stored with ingest_as")
    force: bool = Field(False, description="with ingest_as: ingest even when duplicates are found")

    _ingest_id_chars = field_validator("ingest_as")(lambda v: v if v is None else _no_control_chars(v))
    _metadata_finite = field_validator("metadata")(finite_metadata)


class IngestBatch(BaseModel):
    model_config = STRICT

    documents: list[DocumentIn] = Field(min_length=1)


class IngestResponse(BaseModel):
    documents: list[IngestedOut]


class StoredParagraphOut(BaseModel):
    index: int
    text: str


class DocumentOut(BaseModel):
    id: str
    metadata: dict[str, Any]
    paragraphs: list[StoredParagraphOut]


class StatsOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    documents: int
    paragraphs: int


class Health(BaseModel):
    status: Literal["ok"]


class AllowIn(BaseModel):
    model_config = STRICT

    text: str = TEXT
    note: str = Field("", max_length=1000, description="why the desk allows it")


class AllowOut(BaseModel):
    id: str
    text: str
    note: str


class AllowCreated(AllowOut):
    status: Literal["created", "updated", "unchanged"]


class AllowList(BaseModel):
    entries: list[AllowOut]
