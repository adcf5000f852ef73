"""Schemathesis fuzzes the API from its own OpenAPI schema against a real
server, with valid and invalid inputs: the responses must conform to the
schema, and no request may get a 5xx or a non-JSON error.

Operations are driven with plain hypothesis (`as_strategy`) because
schemathesis' pytest plugin does not support this pytest version.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.conftest import Server

# Real servers (uvicorn processes, Chromium): `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow

EXAMPLES = 40


@schemathesis.serializer("application/x-ndjson")  # type: ignore[untyped-decorator]
def _ndjson(ctx: object, value: object) -> bytes:
    # The schema describes the body as a string of JSON lines.
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store = Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.db"
    with Server(f"sqlite:///{store}") as server:
        yield server


def _distinct_ids(case: schemathesis.Case) -> bool:
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("documents"), list):
        return True
    ids = [d.get("id") for d in body["documents"] if isinstance(d, dict)]
    return len(ids) == len(set(map(str, ids)))


def _holds_no_paragraph(response: Any) -> bool:
    """A 422 that a document's text, split, holds no paragraph."""
    if response.status_code != 422:
        return False
    detail = response.json().get("detail")
    return isinstance(detail, str) and "holds no paragraph" in detail


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    url: str,
    tally: Counter[tuple[str, int]],
    media_type: str | None,
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, media_type=media_type)
    if mode is GenerationMode.POSITIVE:
        # One rule no schema can state: ids must differ within a batch.
        strategy = strategy.filter(_distinct_ids)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        # A free-form NDJSON string cannot be described precisely enough for
        # "schema-valid means accepted"; it is still fuzzed for 5xx below.
        # Likewise "too short to allow" (a shingle count) and "markup that
        # holds no paragraph" (HTML text with no words) have no schema form.
        response = case.call(base_url=url)
        if mode is GenerationMode.POSITIVE and case.media_type != "application/x-ndjson":
            refused = case.path == "/allowlist" or _holds_no_paragraph(response)
            excluded = [schemathesis.checks.positive_data_acceptance] if refused else []
            case.validate_response(response, excluded_checks=excluded)
        tally[(f"{operation.label} {media_type or ''}".strip(), response.status_code)] += 1
        assert response.status_code < 500, (
            f"{case.method} {case.path}: {response.status_code} {response.text}"
        )
        if response.status_code >= 400:
            assert response.headers["content-type"][0].startswith("application/json")
            assert response.json()["detail"]

    try:
        run()
    except Unsatisfiable:
        # Nothing in this operation can be made invalid (no body, only
        # unconstrained string parameters).
        assert mode is GenerationMode.NEGATIVE


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_every_operation(live_server: Server, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(live_server.url + "/openapi.json")
    tally: Counter[tuple[str, int]] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/check", "/ingest", "/documents/{document_id}"}
    for operation in operations:
        # every media type of a body separately, so none goes unexercised
        media_types = [alternative.media_type for alternative in operation.body] or [None]
        for media_type in media_types:
            _fuzz(operation, mode, live_server.url, tally, media_type)
    print(f"fuzz {mode.value}: {sum(tally.values())} requests", dict(sorted(tally.items())))
    exercised = {label for label, _ in tally}
    assert {"POST /check application/json", "POST /ingest application/json"} <= exercised
    assert all(status < 500 for _, status in tally)
    if mode is GenerationMode.NEGATIVE:
        # invalid input was generated and refused
        assert any(400 <= status < 500 for label, status in tally if label.startswith("POST /check"))
