"""Documents as records: the ``{id, text, format?, metadata?}`` shape, and
readers for JSON lines and CSV exports (the HTTP API's NDJSON batches and
``paradup ingest``).

A ``FieldMap`` reads exports as they come: the id and text under other
names, one format for every record, and other fields kept as metadata (the
named ones, or all of them). Without one, records have paradup's own shape
and any other field is refused.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from app.text import Format

# Declared in the schema so that clients (and fuzzers) know what is refused;
# the checks themselves live in the service, with clearer messages.
TEXT_PATTERN = r"^[^\x00]*[^\s\x00-\x1f\x7f-\x9f][^\x00]*$"
# Characters an id may not hold, besides control characters: invisible ones
# (zero-width, soft hyphen, invisible operators) and bidirectional controls
# (which reorder what follows them). With them, two different ids could look
# the same on the review page, or an id could show as another one.
INVISIBLE_IN_IDS = {
    **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u180e", "a zero-width character"),
    **dict.fromkeys("\xad͏\u2061\u2062\u2063\u2064", "an invisible character"),
    **dict.fromkeys("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e", "a bidirectional control"),
    **dict.fromkeys("\u2066\u2067\u2068\u2069", "a bidirectional control"),
}
ID_PATTERN = (
    r"^[^\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u2069\ufeff]+$"
)
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
# A CSV cell holds a whole article; the csv module's default limit (128 KiB)
# is below the longest accepted document.
CSV_FIELD_LIMIT = 1 << 30


# Numbers must be finite everywhere: NaN and Infinity are not JSON, even
# though the parser reads them.
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


# Metadata is a record of the document, not a document tree: deeper
# nesting is refused (each candidate's metadata is read during a filtered check).
MAX_METADATA_DEPTH = 16


def _finite(value: Any, where: str, depth: int = 0) -> None:
    """Refuse NaN and infinities (``NaN``, ``Infinity``, ``1e400``) anywhere
    in a JSON value: stored, they would read back as null."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} is not a finite number (NaN, Infinity and 1e400 are refused)")
    if isinstance(value, dict | list) and depth >= MAX_METADATA_DEPTH:
        raise ValueError(f"{where}: metadata is nested more than {MAX_METADATA_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            _finite(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for number, item in enumerate(value):
            _finite(item, f"{where}[{number}]", depth + 1)


def finite_metadata(value: dict[str, Any]) -> dict[str, Any]:
    _finite(value, "metadata")
    return value


def metadata_bytes(metadata: Mapping[str, Any]) -> int:
    """Size of the metadata as the stores serialise it (compact UTF-8 JSON)."""
    return len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode())


def no_control_chars(value: str) -> str:
    """An id: no control character (C0, DEL, C1), nothing invisible."""
    for at, char in enumerate(value):
        code = ord(char)
        if code < 32 or 127 <= code <= 159:
            raise ValueError(f"must not contain control characters (U+{code:04X} at {at})")
        if char in INVISIBLE_IN_IDS:
            raise ValueError(
                f"must not contain {INVISIBLE_IN_IDS[char]} (U+{code:04X} at {at}): "
                "two different ids would look the same"
            )
    return value


class DocumentIn(BaseModel):
    model_config = STRICT

    id: str = DOCUMENT_ID
    text: str = TEXT
    format: Format = "text"
    metadata: dict[str, Any] = Field(default_factory=dict)

    _id_chars = field_validator("id")(no_control_chars)
    _metadata_finite = field_validator("metadata")(finite_metadata)


class BadLine(ValueError):
    """A line of a JSON-lines batch that is not a valid document."""

    def __init__(self, number: int, problem: str) -> None:
        super().__init__(f"line {number}: {problem}")
        self.number = number
        self.problem = problem

    def __reduce__(self) -> tuple[type[BadLine], tuple[int, str]]:
        # rebuilt from its fields when it crosses processes (bulk ingest)
        return BadLine, (self.number, self.problem)


@dataclass(frozen=True)
class FieldMap:
    """Where a record keeps a document's parts.

    ``format``: every record is in this format (a ``format`` field is then an
    ordinary field); ``None`` reads the record's own ``format`` field. Other
    fields are kept as metadata when named in ``keep`` (the others are left
    out) or, with ``keep_all``, all of them; with neither, they are refused.
    Kept fields go over the keys of a ``metadata`` object of the same name.
    """

    id: str = "id"
    text: str = "text"
    format: Format | None = None
    keep: tuple[str, ...] = ()
    keep_all: bool = False

    @property
    def native(self) -> bool:
        return self == FieldMap()


_RECORD = TypeAdapter(dict[str, Any])


def _problem(exc: ValidationError, names: dict[str, str]) -> str:
    first = exc.errors(include_url=False)[0]
    loc = [str(p) for p in first["loc"]]
    if loc:
        loc[0] = names.get(loc[0], loc[0])
    where = ".".join(loc)
    return f"{where + ': ' if where else ''}{first['msg']}"


def _mapped(record: dict[str, Any], fields: FieldMap) -> DocumentIn:
    """The document a record holds under ``fields``; ValidationError names
    the record's own field."""
    rest = dict(record)
    doc: dict[str, Any] = {}
    for part, name in (("id", fields.id), ("text", fields.text)):
        if name in rest:
            doc[part] = rest.pop(name)
    if isinstance(doc.get("id"), int) and not isinstance(doc["id"], bool):
        doc["id"] = str(doc["id"])  # exports number their rows
    if fields.format is not None:
        doc["format"] = fields.format
    elif "format" in rest:
        doc["format"] = rest.pop("format")
    base = rest.pop("metadata") if isinstance(rest.get("metadata"), dict) else {}
    if fields.keep_all:
        kept = rest
    elif fields.keep:
        kept = {name: rest[name] for name in fields.keep if name in rest}
    else:
        kept = {}
        doc.update(rest)  # refused by the model, naming the first one
    if base or kept:
        doc["metadata"] = {**base, **kept}
    return DocumentIn.model_validate(doc)


def documents_from_lines(
    lines: Iterable[str | bytes], fields: FieldMap | None = None, first: int = 1
) -> Iterator[tuple[int, DocumentIn]]:
    """(line number, document) for each non-blank line of a JSON-lines batch
    (whose first line is numbered ``first``); the first invalid line raises
    ``BadLine`` naming the field and the fault."""
    fields = fields or FieldMap()
    names = {"id": fields.id, "text": fields.text}
    for number, line in enumerate(lines, first):
        if not line.strip():
            continue
        try:
            if fields.native:
                yield number, DocumentIn.model_validate_json(line)
            else:
                yield number, _mapped(_RECORD.validate_json(line), fields)
        except ValidationError as exc:
            raise BadLine(number, _problem(exc, names)) from None


def documents_from_csv(
    lines: Iterable[str], fields: FieldMap | None = None
) -> Iterator[tuple[int, DocumentIn]]:
    """(line number, document) for each row of a CSV file whose first row
    names the columns; ``lines`` is a file opened with ``newline=""``. A row
    is numbered by its first line (a quoted cell may span several)."""
    fields = fields or FieldMap()
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    rows = csv.reader(lines)
    try:
        header = next(rows, None)
        if header is None:
            return
        for name in (fields.id, fields.text):
            if name not in header:
                raise BadLine(1, f"no {name!r} column; the columns are {', '.join(header)}")
        names = {"id": fields.id, "text": fields.text}
        while True:
            number = rows.line_num + 1
            row = next(rows, None)
            if row is None:
                return
            if not row:
                continue
            if len(row) > len(header):
                raise BadLine(number, f"{len(row)} values, but the header names {len(header)} columns")
            try:
                yield number, _mapped(dict(zip(header, row, strict=False)), fields)
            except ValidationError as exc:
                raise BadLine(number, _problem(exc, names)) from None
    except csv.Error as exc:
        raise BadLine(rows.line_num, f"not valid CSV: {exc}") from None
