"""``--url``: check and ingest against a running paradup service over HTTP,
with the same report and exit codes as against a local store."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from typing import Any

import httpx
from pydantic import ValidationError

from app.engine.check_report import CheckResponse
from app.engine.records import DocumentIn
from app.store import WriteStatus
from app.text import Format

# Under the service's default limits (1,000 documents, 5 MiB per request);
# a document larger than the byte budget goes in a request of its own.
DOCUMENTS_PER_REQUEST = 500
BYTES_PER_REQUEST = 2 * 1024 * 1024
TIMEOUT = httpx.Timeout(120.0, connect=10.0)
STATUSES: tuple[WriteStatus, ...] = ("created", "updated", "unchanged")


class RemoteError(Exception):
    """The service could not be reached or refused the request."""

    def __init__(self, message: str, document: int | None = None) -> None:
        super().__init__(message)
        self.document = document  # position in the refused batch, when the service named one


def _refusal(response: httpx.Response) -> tuple[str, int | None]:
    """The service's ``detail`` as one line, and the batch position it names."""
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}, not a paradup answer: {response.text[:200]!r}", None
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        loc = [str(p) for p in detail[0].get("loc", []) if p != "body"]
        position = int(loc[1]) if len(loc) > 1 and loc[0] == "documents" and loc[1].isdigit() else None
        return f"HTTP {response.status_code}: {'.'.join(loc)}: {detail[0].get('msg', '')}", position
    return f"HTTP {response.status_code}: {detail}", None


class Remote:
    def __init__(self, url: str, key: str | None) -> None:
        if not url.startswith(("http://", "https://")):
            raise RemoteError(f"--url {url!r}: expected http://host:port or https://host")
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT)

    def close(self) -> None:
        self.client.close()

    def _post(self, path: str, body: bytes) -> bytes:
        try:
            response = self.client.post(path, content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {self.url}: {exc}") from None
        if response.status_code == 200:
            return response.content
        message, position = _refusal(response)
        if response.status_code == 401:
            message += "; give the service's API key with --key (or PARADUP_KEY)"
        raise RemoteError(f"{self.url}{path}: {message}", position)

    def check(
        self, text: str, fmt: Format, threshold: float | None, exclude_ids: Collection[str]
    ) -> CheckResponse:
        body: dict[str, Any] = {"text": text, "format": fmt, "exclude_ids": list(exclude_ids)}
        if threshold is not None:
            body["threshold"] = threshold
        answer = self._post("/check", json.dumps(body).encode())
        try:
            return CheckResponse.model_validate_json(answer)
        except ValidationError:
            raise RemoteError(f"{self.url}/check: the answer is not a paradup check report") from None

    def ingest(self, encoded: list[bytes]) -> list[dict[str, Any]]:
        """POST documents already encoded as JSON objects; their outcomes in order."""
        answer = self._post("/ingest", b'{"documents":[' + b",".join(encoded) + b"]}")
        try:
            outcomes: list[dict[str, Any]] = json.loads(answer)["documents"]
        except (ValueError, KeyError, TypeError):
            raise RemoteError(f"{self.url}/ingest: the answer is not a paradup ingest report") from None
        if len(outcomes) != len(encoded) or any(o.get("status") not in STATUSES for o in outcomes):
            raise RemoteError(f"{self.url}/ingest: the answer does not match the documents sent")
        return outcomes


def ingest_remote(
    remote: Remote,
    documents: Iterable[tuple[int, DocumentIn]],
    where: str,
    progress: Callable[[int, str], None],
) -> tuple[dict[WriteStatus, int], int]:
    """POST documents in batches; returns counts by status and the number of
    paragraphs. A repeated id starts a new batch (the service refuses one id
    twice in a batch), so the later version is written last. A refused batch
    stops the run naming the file and line; earlier batches stay written."""
    counts: dict[WriteStatus, int] = dict.fromkeys(STATUSES, 0)
    paragraphs = 0
    batch: list[bytes] = []
    lines: list[int] = []
    batch_ids: list[str] = []
    ids: set[str] = set()
    size = 0

    def send() -> None:
        nonlocal paragraphs, size
        progress(0, "sending")
        try:
            outcomes = remote.ingest(batch)
        except RemoteError as exc:
            if exc.document is not None and exc.document < len(lines):
                at = str(lines[exc.document])
            else:
                # The service names a refused document by its id.
                named = [n for doc_id, n in zip(batch_ids, lines, strict=True) if repr(doc_id) in str(exc)]
                at = str(named[0]) if named else f"{lines[0]}-{lines[-1]}"
            raise RemoteError(f"{where}:{at}: {exc}; this batch was not written") from None
        for outcome in outcomes:
            counts[outcome["status"]] += 1
            paragraphs += int(outcome.get("paragraphs", 0))
        progress(len(batch), "sending")
        batch.clear()
        lines.clear()
        batch_ids.clear()
        ids.clear()
        size = 0

    for number, doc in documents:
        encoded = doc.model_dump_json().encode()
        full = len(batch) >= DOCUMENTS_PER_REQUEST or size + len(encoded) > BYTES_PER_REQUEST
        if batch and (doc.id in ids or full):
            send()
        batch.append(encoded)
        lines.append(number)
        batch_ids.append(doc.id)
        ids.add(doc.id)
        size += len(encoded) + 1
    if batch:
        send()
    return counts, paragraphs
