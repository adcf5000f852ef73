"""The check report: the JSON answer of ``POST /check`` and of ``paradup check --json``.

It lives below the HTTP layer because the CLI prints it too, from a local
store or from a running service's answer. A contract with CMS integrations:
fields may be added, never renamed, removed or given another meaning.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.engine.check import ParagraphResult
from app.engine.service import IngestResult


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
    repeat_of: int | None = Field(
        None,
        description="set on a later copy of a paragraph: the index of the first paragraph of the "
        "article with the same normalised text, its only article match (that one lists the archive "
        "matches)",
    )
    copies: int = Field(1, description="paragraphs of the article with this normalised text, itself included")
    matches: list[MatchOut]
    passages: list[PassageOut] = Field(
        default_factory=list,
        description="runs of words shared with an earlier paragraph or an archived one; "
        "they never change status",
    )


class IngestedOut(BaseModel):
    id: str
    status: Literal["created", "updated", "unchanged"]
    paragraphs: int


class CheckResponse(BaseModel):
    duplicate: bool
    reuse: bool = Field(False, description="any paragraph has a match or a passage")
    paragraphs: list[ParagraphOut]
    ingested: IngestedOut | None = Field(
        None, description="publish flow: the ingest outcome, or null when not ingested"
    )


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
            repeat_of=r.repeat_of,
            copies=r.copies,
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
