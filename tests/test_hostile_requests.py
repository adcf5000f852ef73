"""One cheap request must not cost a lot, and odd JSON must get a clear 422.

Work is counted, not timed: overlap computations through a counting wrapper,
checkpoints through a counting deadline.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import app.engine.check as check_module
from app.engine import DocumentInput, Service
from app.engine.cancel import Cancelled, Deadline
from app.engine.check import ARTICLE_CANDIDATES, ARTICLE_MATCHES_LISTED, MATCHES_LISTED
from app.hashing import overlap

PARAGRAPH = (
    "The harbour board met on Thursday evening to discuss the dredging contract, and voted to delay it again."
)


@pytest.fixture
def overlaps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-element list counting the overlap computations of checks."""
    count = [0]

    def counted(a: object, b: object) -> object:
        count[0] += 1
        return overlap(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(check_module, "overlap", counted)
    return count


def near_duplicates(n: int) -> str:
    base = [f"word{(i * 31) % 97}" for i in range(40)]
    out = []
    for k in range(n):
        words = list(base)
        words[k % 40] = f"edit{k}"
        out.append(" ".join(words))
    return "\n\n".join(out)


def test_repeated_paragraphs_grow_the_answer_and_the_work_linearly(
    client: TestClient, overlaps: list[int]
) -> None:
    sizes, work = {}, {}
    for n in (100, 200, 400):
        overlaps[0] = 0
        answer = client.post("/check", json={"text": "\n\n".join([PARAGRAPH] * n)})
        assert answer.status_code == 200
        sizes[n], work[n] = len(answer.content), overlaps[0]
        body = answer.json()
        assert body["duplicate"] is True
        first, *repeats = body["paragraphs"]
        assert (first["status"], first["repeat_of"], first["copies"], first["matches"]) == (
            "unique",
            None,
            n,
            [],
        )
        for p in repeats:
            assert p["status"] == "duplicate" and p["repeat_of"] == 0 and p["copies"] == n
            assert [(m["source"], m["paragraph_index"]) for m in p["matches"]] == [("article", 0)]
    assert work == {100: 0, 200: 0, 400: 0}  # identical paragraphs are verified once: never
    assert sizes[400] - sizes[200] == 2 * (sizes[200] - sizes[100])  # each copy adds the same bytes


def test_near_duplicates_in_one_article_are_not_compared_all_pairs(
    client: TestClient, overlaps: list[int]
) -> None:
    n = 400
    answer = client.post("/check", json={"text": near_duplicates(n)})
    assert answer.status_code == 200
    paragraphs = answer.json()["paragraphs"]
    assert 0 < overlaps[0] <= ARTICLE_CANDIDATES * n  # all pairs would be n(n-1)/2 = 79,800
    assert all(p["status"] == "duplicate" for p in paragraphs[1:])
    assert max(len(p["matches"]) for p in paragraphs) == ARTICLE_MATCHES_LISTED
    listed = paragraphs[-1]["matches"]
    assert listed == sorted(listed, key=lambda m: (-m["similarity"], -m["containment"]))


def test_a_repeat_shares_its_first_occurrences_archive_outcome(client: TestClient) -> None:
    client.post("/ingest", json={"id": "archived", "text": PARAGRAPH}).raise_for_status()
    text = f"{PARAGRAPH}\n\nSomething else entirely, said the harbour master to nobody.\n\n{PARAGRAPH}"
    first, _, repeat = client.post("/check", json={"text": text}).json()["paragraphs"]
    assert [m["document_id"] for m in first["matches"]] == ["archived"]
    assert repeat["repeat_of"] == 0 and repeat["copies"] == 2
    assert [m["source"] for m in repeat["matches"]] == ["article"]


class CountingDeadline(Deadline):
    """Never passes by itself; stops the work at its ``stop_at``-th checkpoint."""

    def __init__(self, stop_at: int | None = None) -> None:
        super().__init__()
        self.checks = 0
        self.stop_at = stop_at
        self.stages: set[str] = set()

    def check(self, stage: str) -> None:
        self.checks += 1
        self.stages.add(stage)
        if self.stop_at is not None and self.checks >= self.stop_at:
            raise Cancelled(stage)


def test_the_engine_checks_its_deadline_inside_every_per_paragraph_loop(service: Service) -> None:
    service.ingest([DocumentInput("archived", near_duplicates(50))])
    deadline = CountingDeadline()
    service.check(near_duplicates(300), deadline=deadline)
    # One checkpoint per paragraph in the article and in the archive loops.
    assert deadline.checks >= 2 * 300
    assert {"splitting", "fingerprinting", "verification in the article", "archive lookup"} <= deadline.stages
    assert "verification against the archive" in deadline.stages


def test_work_stopped_at_any_checkpoint_raises_and_writes_nothing(service: Service) -> None:
    doc = DocumentInput("new", near_duplicates(30))
    total = CountingDeadline()
    service.ingest([doc], deadline=total)
    assert service.delete("new")
    for stop_at in range(1, total.checks + 1):
        with pytest.raises(Cancelled):
            service.ingest([doc], deadline=CountingDeadline(stop_at))
        with pytest.raises(Cancelled):
            service.check_and_publish(doc, force=True, deadline=CountingDeadline(stop_at))
        assert service.get("new") is None


def test_a_deadline_in_the_past_stops_a_check_before_any_work(service: Service) -> None:
    with pytest.raises(Cancelled) as stopped:
        service.check(PARAGRAPH, deadline=Deadline(0))
    assert stopped.value.stage == "splitting"


NON_FINITE = [
    ("/check", b'{"text": "a b c", "threshold": NaN}', ["threshold"]),
    ("/check", b'{"text": NaN}', ["text"]),
    ("/check", b'{"text": "a b c", "exclude_ids": [Infinity]}', ["exclude_ids", 0]),
    ("/check", b'{"text": "a b c", "containment_threshold": -Infinity}', ["containment_threshold"]),
    ("/check", b'{"text": "a b c", "filters": {"metadata": {"n": NaN}}}', ["filters", "metadata", "n"]),
    ("/ingest", b'{"id": NaN, "text": "a b c"}', ["id"]),
    ("/ingest", b'{"documents": [{"id": "d", "text": Infinity}]}', ["documents", 0, "text"]),
    ("/allowlist", b'{"text": NaN}', ["text"]),
    ("/allowlist", b'{"text": "fine words here", "note": Infinity}', ["note"]),
]


@pytest.mark.parametrize(("path", "body", "where"), NON_FINITE)
def test_nan_or_infinity_anywhere_answers_a_json_422(
    client: TestClient, path: str, body: bytes, where: list[object]
) -> None:
    answer = client.post(path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/json"
    assert where in [error["loc"][: len(where)] for error in answer.json()["detail"]]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("path", ["/ingest", "/check"])
def test_non_finite_metadata_is_refused_naming_the_field(client: TestClient, path: str, value: str) -> None:
    meta = '{"section": "local", "scores": {"reach": [1, VALUE]}}'.replace("VALUE", value)
    id_field = "id" if path == "/ingest" else "ingest_as"
    body = f'{{"{id_field}": "m1", "text": "a b c d e f g h", "metadata": {meta}}}'
    answer = client.post(path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert "metadata.scores.reach[1]" in answer.text
    assert client.get("/documents/m1").status_code == 404


BOM = b"\xef\xbb\xbf"


def test_a_byte_order_mark_on_json_and_ndjson_bodies_is_accepted(client: TestClient) -> None:
    json_type = {"content-type": "application/json"}
    ingest = client.post(
        "/ingest", content=BOM + b'{"id": "b1", "text": "%s"}' % PARAGRAPH.encode(), headers=json_type
    )
    assert ingest.status_code == 200, ingest.text
    lines = (
        BOM + b'{"id": "b2", "text": "one two three four five six seven"}\n{"id": "b3", "text": "x y z"}\n'
    )
    ndjson = client.post("/ingest", content=lines, headers={"content-type": "application/x-ndjson"})
    assert ndjson.status_code == 200, ndjson.text
    assert [d["id"] for d in ndjson.json()["documents"]] == ["b2", "b3"]
    check = client.post("/check", content=BOM + b'{"text": "%s"}' % PARAGRAPH.encode(), headers=json_type)
    assert check.status_code == 200 and check.json()["duplicate"] is True
    allow = client.post("/allowlist", content=BOM + b'{"text": "%s"}' % PARAGRAPH.encode(), headers=json_type)
    assert allow.status_code == 201, allow.text


def test_matches_listed_per_paragraph_are_bounded_closest_first(client: TestClient) -> None:
    # One archived document repeating a paragraph shape 300 times: checked
    # against it, each paragraph lists the closest MATCHES_LISTED, not 300.
    client.post("/ingest", json={"id": "flood", "text": near_duplicates(300)}).raise_for_status()
    answer = client.post("/check", json={"text": near_duplicates(30)})
    assert answer.status_code == 200
    for p in answer.json()["paragraphs"]:
        assert 0 < len(p["matches"]) <= MATCHES_LISTED
        scores = [(m["similarity"], m["containment"]) for m in p["matches"]]
        assert scores == sorted(scores, reverse=True)
    first = answer.json()["paragraphs"][0]["matches"][0]
    assert (first["document_id"], first["paragraph_index"], first["similarity"]) == ("flood", 0, 1.0)
