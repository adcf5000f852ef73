"""The check report: the JSON answer of ``POST /check`` and of ``paradup check --json``.

It lives below the HTTP layer because the CLI prints it too, from a local
store or from a running service's answer. A contract with CMS integrations:
fields may be added, never renamed, removed or given another meaning.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_core import to_json

from app.engine.check import ParagraphResult
from app.engine.service import IngestResult

# Paragraphs serialised in one call, at most: serialising holds the GIL, and a
# long answer in one call would hold the event loop (and /health) for its
# duration even when it is encoded in a thread.
ENCODED_TOGETHER = 64


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


def check_answer(results: list[ParagraphResult], ingested: IngestResult | None = None) -> bytes:
    """``check_response(results, ingested).model_dump_json()``, byte for byte,
    at a quarter of the cost: what the engine built is already valid, so the
    values go to pydantic's serialiser as they are instead of being validated
    into models first. The keys are CheckResponse's, in its order
    (tests/test_check_report.py holds the two equal)."""
    paragraphs = [_paragraph(r) for r in results]
    top = {
        "duplicate": any(r.duplicate for r in results),
        "reuse": any(r.duplicate or r.passages for r in results),
        "paragraphs": paragraphs,
        "ingested": ingested.__dict__ if ingested else None,
    }
    if len(paragraphs) <= ENCODED_TOGETHER:
        return to_json(top)
    head, tail = to_json({**top, "paragraphs": []}).split(b'"paragraphs":[]', 1)
    chunks = (
        to_json(paragraphs[n : n + ENCODED_TOGETHER])[1:-1]
        for n in range(0, len(paragraphs), ENCODED_TOGETHER)
    )
    return b"".join((head, b'"paragraphs":[', b",".join(chunks), b"]", tail))


def _paragraph(r: ParagraphResult) -> dict[str, Any]:
    p = r.paragraph
    duplicate = bool(r.matches)
    return {
        "index": p.index,
        "start": p.start,
        "end": p.end,
        "text": p.text,
        "status": "duplicate" if duplicate else "unique",
        "short": r.short,
        "boilerplate": r.boilerplate_documents > 0,
        "boilerplate_documents": r.boilerplate_documents,
        "allowlisted": r.allowlisted,
        "repeat_of": r.repeat_of,
        "copies": r.copies,
        "matches": [m.__dict__ for m in r.matches],
        "passages": [x.__dict__ for x in r.passages],
    }
