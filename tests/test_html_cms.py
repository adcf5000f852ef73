"""HTML as CMSes really send it, through the real /check: a seed-shaped
article whose paragraphs are separated by <br> (legacy CMSes, wire feeds)
is caught like the same article in <p> or WordPress blocks."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.articles import SEED_SHAPED_FR
from tests.conftest import ROOT, SHARED
from tests.test_seed import duplicates_of


def as_html(paragraphs: list[str], shape: str) -> str:
    if shape == "double <br>":
        return '<div class="article-body">\n' + "<br><br>\n".join(paragraphs) + "\n</div>"
    if shape == "<br/>":
        return "<div>" + "<br/>\n".join(paragraphs) + "</div>"
    if shape == "<br> with &nbsp; lines":
        return "<div>" + "<br>\n&nbsp;<br>".join(paragraphs) + "</div>"
    if shape == "wordpress blocks":
        return "\n".join(f"<!-- wp:paragraph -->\n<p>{p}</p>\n<!-- /wp:paragraph -->" for p in paragraphs)
    raise AssertionError(shape)


SEEDS = [SHARED / "seed" / "kremlin_fr.txt", ROOT.parent.parent / "shared" / "seed" / "kremlin_fr.txt"]
SHAPES = ["double <br>", "<br/>", "<br> with &nbsp; lines", "wordpress blocks"]


def check_html(client: TestClient, html: str) -> dict:  # type: ignore[type-arg]
    response = client.post("/check", json={"text": html, "format": "html"})
    assert response.status_code == 200, response.text
    body: dict = response.json()  # type: ignore[type-arg]
    return body


@pytest.mark.parametrize("shape", SHAPES)
def test_seed_shaped_html_is_caught(client: TestClient, shape: str) -> None:
    paragraphs = SEED_SHAPED_FR.split("\n")
    html = as_html(paragraphs, shape)
    body = check_html(client, html)
    assert body["duplicate"] is True
    assert [p["text"] for p in body["paragraphs"]] == paragraphs
    assert duplicates_of(body) == {3: [1], 4: [2]}
    for p in body["paragraphs"]:
        span = html[p["start"] : p["end"]]
        # the text between the breaks, or the whole <p> of a WordPress block
        assert span in (p["text"], f"<p>{p['text']}</p>")


def test_the_same_article_as_one_unbroken_div_is_one_paragraph(client: TestClient) -> None:
    html = "<div>" + " ".join(SEED_SHAPED_FR.split("\n")) + "</div>"
    body = check_html(client, html)
    assert len(body["paragraphs"]) == 1
    assert body["duplicate"] is False


@pytest.mark.parametrize("shape", SHAPES)
def test_the_real_seed_file_as_html(client: TestClient, shape: str) -> None:
    # Beside a clone, or beside the directory of git worktrees.
    seed = next((s for s in SEEDS if s.exists()), SEEDS[0])
    if not seed.exists():
        pytest.skip(f"{seed} is absent: the shared seed article is not beside this checkout")
    paragraphs = [line.strip() for line in seed.read_text(encoding="utf-8").splitlines() if line.strip()]
    body = check_html(client, as_html(paragraphs, shape))
    # 1-based paragraphs 4 and 5 repeat paragraphs 2 and 3.
    assert body["duplicate"] is True
    assert duplicates_of(body) == {3: [1], 4: [2]}
    assert len(body["paragraphs"]) == len(paragraphs)


@pytest.mark.parametrize(
    ("html", "status"),
    [
        ("<![<![", 422),  # was a 500: AssertionError in _markupbase; now simply no paragraph
        ("<p>Some text.</p><![<![", 200),
        ("<p>&#" + "9" * 5000 + ";</p>", 200),  # was a 500: ValueError in int()
    ],
)
def test_unfinished_markup_is_answered_not_a_500(client: TestClient, html: str, status: int) -> None:
    answers = [
        client.post("/check", json={"text": html, "format": "html"}),
        client.post("/check", content=html.encode(), headers={"content-type": "text/html"}),
        client.post("/ingest", json={"id": "broken", "text": html, "format": "html"}),
        client.post("/check", json={"text": html, "format": "html", "ingest_as": "broken-2"}),
    ]
    for response in answers:
        assert response.status_code == status, response.text
        if status == 422:
            assert "no paragraph" in response.json()["detail"]
