"""Reading request bodies: JSON, or raw text/plain and text/html articles."""

from __future__ import annotations

import codecs
import json
from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.api.errors import ApiError
from app.api.schemas import DocumentIn, IngestBatch
from app.engine.records import BadLine, documents_from_lines

Model = TypeVar("Model", bound=BaseModel)
RAW_FORMATS = {"text/plain": "text", "text/html": "html"}


def media_type(request: Request) -> tuple[str, str]:
    """(media type, charset) of the request, lower-cased; charset defaults to utf-8."""
    header = request.headers.get("content-type", "")
    parts = [p.strip() for p in header.split(";")]
    charset = "utf-8"
    for param in parts[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value:
            charset = value.strip().strip('"').lower()
    return parts[0].lower(), charset


def decode(raw: bytes, charset: str) -> str:
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        raise ApiError(415, f"unsupported charset {charset!r}") from None
    # Python also names bytes-to-bytes transforms (base64, zlib, rot13) and
    # escape codecs as "codecs": only real text encodings are charsets.
    if not codec._is_text_encoding or codec.name.endswith("unicode-escape"):
        raise ApiError(415, f"unsupported charset {charset!r}")
    try:
        text = raw.decode(codec.name)
        text.encode("utf-8")  # a lone surrogate cannot be text
    except UnicodeError as exc:
        where = f": byte {exc.start} cannot be decoded" if isinstance(exc, UnicodeDecodeError) else ""
        raise ApiError(400, f"request body is not valid {charset}{where}") from None
    return text


def without_bom(raw: bytes) -> bytes:
    """JSON has no byte order mark, but editors on Windows write one: ignored."""
    return raw.removeprefix(codecs.BOM_UTF8)


def parse_json(model: type[Model], raw: bytes) -> Model:
    raw = without_bom(raw)
    if not raw.strip():
        raise ApiError(422, "request body is empty: expected a JSON object")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        for error in errors:
            # Undecodable input comes back as raw bytes, which the JSON error
            # response could not encode: name the problem, drop the bytes.
            if isinstance(error.get("input"), bytes):
                del error["input"]  # type: ignore[misc]
        raise RequestValidationError(errors) from None


def require_json(request: Request, allowed_raw: bool) -> None:
    kind, _ = media_type(request)
    if kind in ("application/json", "") or kind.endswith("+json"):
        return
    if allowed_raw and kind in RAW_FORMATS:
        return
    accepted = "application/json" + (", text/plain or text/html" if allowed_raw else "")
    raise ApiError(415, f"unsupported content type {kind!r}: send {accepted}")


NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")


def parse_ndjson(raw: bytes) -> list[DocumentIn]:
    """One document per line; any bad line rejects the whole request (the
    batch is atomic like a JSON batch), naming the line."""
    try:
        docs = [doc for _, doc in documents_from_lines(without_bom(raw).split(b"\n"))]
    except BadLine as exc:
        raise ApiError(422, f"{exc}; nothing was ingested") from None
    if not docs:
        raise ApiError(422, "request body holds no document")
    return docs


def parse_documents(raw: bytes) -> list[DocumentIn]:
    """One document, or ``{"documents": [...]}``: told apart by the top-level
    key, so a document whose metadata mentions "documents" stays one."""
    raw = without_bom(raw)
    try:
        top = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        top = None  # the model's parser reports the exact JSON error below
    if isinstance(top, dict) and "documents" in top:
        return parse_json(IngestBatch, raw).documents
    return [parse_json(DocumentIn, raw)]
