"""Request and response bodies of the public HTTP API.

These shapes are a contract with CMS integrations: fields may be added,
never renamed, removed or given another meaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.engine import ArchiveFilter, IngestResult, ParagraphResult
from app.engine.filters import as_datetime

Format = Literal["text", "html"]
# Declared in the schema so that clients (and fuzzers) know what is refused;
# the checks themselves live in the service, with clearer messages.
TEXT_PATTERN = r"^[^\x00]*[^\s\x00-\x1f\x7f-\x9f][^\x00]*$"
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
DOCUMENT_ID = Field(
    min_length=1,
    max_length=512,
    description="the publisher's id for the document",
    json_schema_extra={"pattern": ID_PATTERN},
)
TEXT = Field(
    description="plain text or HTML; at least one non-blank character, no NUL",
    json_schema_extra={"pattern": TEXT_PATTERN},
)


def _no_control_chars(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


Scalar = str | int | float | bool


class ArchiveFilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    model_config = ConfigDict(extra="forbid")

    text: str = TEXT
    format: Format = "text"
    threshold: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="similarity (Jaccard) threshold; default from settings. Below the index's "
        "LSH threshold (PARADUP_LSH_THRESHOLD, 0.3) recall is no longer guaranteed: the bands only "
        "propose pairs reliably from there up",
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


class MatchOut(BaseModel):
    source: Literal["article", "archive"]
    document_id: str | None
    paragraph_index: int
    similarity: float
    containment: float
    text: str


class PassageOut(BaseModel):
    start: int = Field(description="offset into the submitted body (HTML included), like the paragraph's")
    end: int
    source: Literal["article", "archive"]
    document_id: str | None = Field(description="the archived document; null for the article itself")
    paragraph_index: int
    source_start: int = Field(description="offset into the source paragraph's text")
    source_end: int
    text: str = Field(description="the passage in this paragraph's text")
    source_text: str = Field(description="the passage in the source paragraph's text")


class ParagraphOut(BaseModel):
    index: int
    start: int
    end: int
    text: str
    status: Literal["unique", "duplicate"]
    short: bool = Field(
        description="too short to fingerprint: only exact repeats inside the article are reported"
    )
    boilerplate: bool = Field(
        False, description="recurs across many archived documents; archive matches are left out"
    )
    boilerplate_documents: int = Field(0, description="archived documents holding it, when boilerplate")
    allowlisted: bool = Field(False, description="matches a phrase of the allowlist: not reported")
    matches: list[MatchOut]
    passages: list[PassageOut] = Field(
        default_factory=list,
        description="runs of words shared with an earlier paragraph or an archived one; "
        "they never change status",
    )


class CheckResponse(BaseModel):
    duplicate: bool
    reuse: bool = Field(False, description="any paragraph has a match or a passage")
    paragraphs: list[ParagraphOut]
    ingested: IngestedOut | None = Field(
        None, description="publish flow: the ingest outcome, or null when not ingested"
    )


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = DOCUMENT_ID
    text: str = TEXT
    format: Format = "text"
    metadata: dict[str, Any] = Field(default_factory=dict)

    _id_chars = field_validator("id")(_no_control_chars)


class IngestBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentIn] = Field(min_length=1)


class IngestedOut(BaseModel):
    id: str
    status: Literal["created", "updated", "unchanged"]
    paragraphs: int


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


def check_response(results: list[ParagraphResult], ingested: IngestResult | None = None) -> CheckResponse:
    paragraphs = [
        ParagraphOut(
            index=r.paragraph.index,
            start=r.paragraph.start,
            end=r.paragraph.end,
            text=r.paragraph.text,
            status="duplicate" if r.duplicate else "unique",
            short=r.short,
            boilerplate=r.boilerplate,
            boilerplate_documents=r.boilerplate_documents,
            allowlisted=r.allowlisted,
            matches=[MatchOut(**m.__dict__) for m in r.matches],
            passages=[PassageOut(**p.__dict__) for p in r.passages],
        )
        for r in results
    ]
    return CheckResponse(
        duplicate=any(r.duplicate for r in results),
        reuse=any(r.duplicate or r.passages for r in results),
        paragraphs=paragraphs,
        ingested=IngestedOut(**ingested.__dict__) if ingested else None,
    )


class AllowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

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


class BadLine(ValueError):
    """A line of a JSON-lines batch that is not a valid document."""

    def __init__(self, number: int, problem: str) -> None:
        super().__init__(f"line {number}: {problem}")
        self.number = number
        self.problem = problem


def documents_from_lines(lines: Iterable[str | bytes]) -> Iterator[tuple[int, DocumentIn]]:
    """(line number, document) for each non-blank line of a JSON-lines batch;
    the first invalid line raises ``BadLine`` naming the field and the fault."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, DocumentIn.model_validate_json(line)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise BadLine(number, f"{where + ': ' if where else ''}{first['msg']}") from None
