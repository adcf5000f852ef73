"""/check's passages and ``reuse``: what a CMS reads, over HTTP."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.cli import main
from app.engine import Service
from app.engine.fingerprint import fingerprinter
from app.engine.service import DocumentInput
from app.hashing import band_params
from app.settings import Settings
from app.store import SchemeMismatch, open_store
from tests.articles import ARCHIVED_EN, UNRELATED_EN
from tests.conftest import Server

PASSAGE_KEYS = {
    "start",
    "end",
    "source",
    "document_id",
    "paragraph_index",
    "source_start",
    "source_end",
    "text",
    "source_text",
}
ARCHIVED = ARCHIVED_EN.split("\n\n")
# Two sentences of an archived paragraph inside a new paragraph of the
# reporter's own: too small a share of it for the paragraph bands.
QUOTE = (
    "Ferry operators said they would move their departures to the southern terminal, adding that "
    "passengers should allow an extra twenty minutes"
)
FRESH = (
    "Traders on the quay were furious this week. " + QUOTE + ", which left the fishing "
    "cooperative without a berth for its three trawlers during the busiest weeks of the winter "
    "season, its chairman complained at a meeting that lasted late into the evening."
)


def _check(client: TestClient, text: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/check", json={"text": text, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def archived(client: TestClient) -> TestClient:
    assert client.post("/ingest", json={"id": "harbour", "text": ARCHIVED_EN}).status_code == 200
    return client


def test_a_quote_of_the_archive_is_a_passage_and_not_a_duplicate(archived: TestClient) -> None:
    article = UNRELATED_EN + "\n\n" + FRESH
    body = _check(archived, article)
    assert body["duplicate"] is False and body["reuse"] is True
    paragraph = body["paragraphs"][2]
    assert paragraph["status"] == "unique" and paragraph["matches"] == []
    (passage,) = paragraph["passages"]
    assert set(passage) == PASSAGE_KEYS
    assert passage["source"] == "archive"
    assert (passage["document_id"], passage["paragraph_index"]) == ("harbour", 1)
    assert passage["text"] == QUOTE
    assert article[passage["start"] : passage["end"]] == QUOTE
    stored = archived.get("/documents/harbour").json()["paragraphs"][1]["text"]
    assert stored[passage["source_start"] : passage["source_end"]] == passage["source_text"] == QUOTE
    assert all(p["passages"] == [] for p in body["paragraphs"][:2])


def _visible(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, references decoded."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", fragment)).split())


def test_html_passages_point_into_the_submitted_html(archived: TestClient) -> None:
    marked = QUOTE.replace("departures", "<em>departures</em>").replace("terminal,", "terminal&#44;")
    body = (
        "<!doctype html><article><h1>Quay anger</h1><p>Traders on the quay were furious. "
        f"{marked} &mdash; and the cooperative lost its berth.</p></article>"
    )
    answer = _check(archived, body, format="html")
    assert answer["reuse"] is True
    (passage,) = answer["paragraphs"][1]["passages"]
    assert passage["text"] == QUOTE
    assert body[passage["start"] : passage["end"]] == marked
    assert _visible(body[passage["start"] : passage["end"]]) == QUOTE
    paragraph = answer["paragraphs"][1]
    assert paragraph["start"] <= passage["start"] < passage["end"] <= paragraph["end"]


def test_light_edits_inside_a_quote_give_one_passage_spanning_it(archived: TestClient) -> None:
    edited = (
        QUOTE.replace("operators", "OPERATORS").replace("move", "shift").replace(" terminal", "   terminal")
    )
    article = FRESH.replace(QUOTE, edited.replace("OPERATORS", "ОPERATORS"))  # a Cyrillic О
    (passage,) = _check(archived, article)["paragraphs"][0]["passages"]
    assert article[passage["start"] : passage["end"]] == passage["text"]
    assert len(passage["text"]) == len(edited)
    assert passage["source_text"] == QUOTE


def test_a_sentence_of_an_earlier_paragraph_repeated_later_is_an_article_passage(client: TestClient) -> None:
    first = ARCHIVED[0]
    sentence = "the northern pier will close for repairs until the end of March, after divers found corrosion"
    later = "Engineers were called in on Tuesday, " + sentence + ", and they ordered more checks."
    article = first + "\n\n" + UNRELATED_EN + "\n\n" + later
    body = _check(client, article)
    assert body["duplicate"] is False and body["reuse"] is True
    (passage,) = body["paragraphs"][3]["passages"]
    assert (passage["source"], passage["document_id"], passage["paragraph_index"]) == ("article", None, 0)
    assert article[passage["start"] : passage["end"]] == sentence
    assert first[passage["source_start"] : passage["source_end"]] == sentence


def test_a_near_duplicate_paragraph_also_reports_its_shared_words(archived: TestClient) -> None:
    copy = ARCHIVED[2].replace("four million", "five million")
    body = _check(archived, copy)
    assert body["duplicate"] is True and body["reuse"] is True
    paragraph = body["paragraphs"][0]
    assert paragraph["matches"][0]["document_id"] == "harbour"
    (passage,) = paragraph["passages"]
    # every word, from the first to the last (the final full stop is no token)
    assert (passage["start"], passage["end"]) == (0, len(copy) - 1)
    assert passage["source_text"] == ARCHIVED[2].removesuffix(".")


def test_merged_and_split_paragraphs_name_each_source(archived: TestClient) -> None:
    merged = _check(archived, ARCHIVED[0] + " " + ARCHIVED[1])["paragraphs"][0]
    named = {m["paragraph_index"] for m in merged["matches"]} | {
        p["paragraph_index"] for p in merged["passages"]
    }
    assert named == {0, 1}
    halves = ARCHIVED[2].split(" and that ")
    split = _check(archived, halves[0] + ".\n\nAnd that " + halves[1])["paragraphs"]
    for paragraph in split:
        sources = {(p["document_id"], p["paragraph_index"]) for p in paragraph["passages"]}
        sources |= {(m["document_id"], m["paragraph_index"]) for m in paragraph["matches"]}
        assert ("harbour", 2) in sources


def test_a_fifteen_word_quote_is_found_and_a_five_word_formula_is_not(archived: TestClient) -> None:
    quote = "the northern pier will close for repairs until the end of March, after divers found"
    assert len(quote.split()) == 15
    host = "A long paragraph of our own about the tides and the weather on the coast this week"
    found = _check(archived, f"{host}, and {quote} nothing else of note.")["paragraphs"][0]
    assert [p["source_text"] for p in found["passages"]] == [quote]
    formula = _check(archived, f"{host}: the harbour authority confirmed on Monday that it rained.")
    assert formula["reuse"] is False and formula["paragraphs"][0]["passages"] == []


def test_a_phrase_many_archived_documents_share_is_not_a_passage(client: TestClient) -> None:
    formula = "according to a spokesperson for the regional ministry of transport and public works"
    documents = [
        {"id": f"story-{n}", "text": f"Story {n} is about topic number {n * 7} on its own terms, {formula}."}
        for n in range(12)
    ]
    assert client.post("/ingest", json={"documents": documents}).status_code == 200
    body = _check(client, f"The bridge will reopen in May after a long closure, {formula}, nothing more.")
    assert body["paragraphs"][0]["passages"] == [] and body["reuse"] is False


def test_exclude_ids_and_filters_apply_to_passages(archived: TestClient) -> None:
    assert _check(archived, FRESH, exclude_ids=["harbour"])["paragraphs"][0]["passages"] == []
    other_section = {"metadata": {"section": ["sport"]}}
    assert _check(archived, FRESH, filters=other_section)["paragraphs"][0]["passages"] == []


def test_passages_over_a_real_server(tmp_path: Path) -> None:
    article = UNRELATED_EN + "\n\n" + FRESH
    with Server(f"sqlite:///{tmp_path}/live.db") as server:
        assert httpx.post(server.url + "/ingest", json={"id": "harbour", "text": ARCHIVED_EN}, timeout=30)
        raw = httpx.post(
            server.url + "/check",
            content=article.encode(),
            headers={"content-type": "text/plain"},
            timeout=30,
        ).json()
    assert raw["reuse"] is True and raw["duplicate"] is False
    (passage,) = raw["paragraphs"][2]["passages"]
    assert article[passage["start"] : passage["end"]] == QUOTE


def test_a_store_created_before_passages_keeps_working_on_its_bands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    # as created before passages: no postings, 49 bands of 2 rows
    old = Service.open(Settings(store=url, passages=False, lsh_threshold=0.3))
    assert old.fingerprinter.bands.bands == 49
    old.close()
    reopened = Service.open(Settings(store=url))
    assert (reopened.fingerprinter.bands.bands, reopened.fingerprinter.passages) == (49, None)
    reopened.close()
    with pytest.raises(SchemeMismatch):  # other bands asked for explicitly: refused
        Service.open(Settings(store=url, lsh_threshold=0.4))
    with TestClient(create_app(Settings(store=url))) as client:
        assert client.post("/ingest", json={"id": "harbour", "text": ARCHIVED_EN}).status_code == 200
        # no postings: a quote alone is not found in the archive ...
        assert _check(client, FRESH)["paragraphs"][0]["passages"] == []
        # ... but near-duplicates and the article's own repeats still show their passages
        near = _check(client, ARCHIVED[2].replace("four", "five"))["paragraphs"][0]
        assert near["matches"] and near["passages"]


def test_a_store_made_with_the_bands_before_27x3_keeps_them(tmp_path: Path) -> None:
    """Stores created with passages and 27 x 2 bands (the default until 27 x
    3) open with today's defaults on their own bands, postings included."""
    url = f"sqlite:///{tmp_path}/two-rows.db"
    fresh = Service.open(Settings(store=f"sqlite:///{tmp_path}/new.db"))
    assert fresh.fingerprinter.bands == (27, 3)
    fresh.close()
    old = Service.open(Settings(store=url, lsh_threshold=0.4))
    assert old.fingerprinter.bands == (27, 2)
    old.ingest([DocumentInput("harbour", ARCHIVED_EN)])
    old.close()
    reopened = Service.open(Settings(store=url))
    assert reopened.fingerprinter.bands == (27, 2) and reopened.fingerprinter.passages is not None
    reopened.close()
    with pytest.raises(SchemeMismatch, match="bands=27x2"):  # other bands asked for: refused
        Service.open(Settings(store=url, lsh_bands="27x3"))
    with TestClient(create_app(Settings(store=url))) as client:
        found = _check(client, ARCHIVED_EN)["paragraphs"][0]["matches"]
        assert [m["document_id"] for m in found] == ["harbour"]
        # its postings are still read: a quote of it is found as a passage
        quoted = _check(client, FRESH)["paragraphs"][0]["passages"]
        assert quoted and quoted[0]["source"] == "archive"


def test_verify_passes_a_store_made_with_the_bands_before_27x3(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/two-rows.db"
    old = Service.open(Settings(store=url, lsh_threshold=0.4))
    old.ingest([DocumentInput("harbour", ARCHIVED_EN)])
    old.close()
    assert main(["verify", "--store", url]) == 0  # the defaults serve it: it is sound
    with pytest.MonkeyPatch.context() as env:  # other bands asked for: not what it holds
        env.setenv("PARADUP_LSH_BANDS", "27x3")
        assert main(["verify", "--store", url]) == 2


def test_band_settings_are_checked() -> None:
    assert Settings(lsh_bands="20x2").band_shape == (20, 2)
    # fewer permutations than 27 x 3 needs, no band setting: bands from the
    # threshold, as before 27 x 3; the shape asked for explicitly is refused
    assert fingerprinter(Settings(num_perm=64)).bands == band_params(0.4, 64)
    with pytest.raises(ValueError, match="needs 81 permutations"):
        Settings(num_perm=64, lsh_bands="27x3")
    with pytest.raises(ValueError, match="needs 135 permutations"):
        Settings(lsh_bands="27x5")
    with pytest.raises(ValueError, match="lsh_bands"):
        Settings(lsh_bands="27 x 3")


def test_a_store_written_before_the_scheme_covered_the_nfkc_table_still_opens(tmp_path: Path) -> None:
    """Earlier stores name the same tables by the character table's digest
    alone; they open, and their paragraphs are found."""
    url = f"sqlite:///{tmp_path}/earlier.db"
    bands_only = fingerprinter(Settings(store=url, passages=False, lsh_threshold=0.3))
    earlier = bands_only.earlier_scheme
    assert earlier is not None and earlier != bands_only.scheme
    store = open_store(url, bands_only.band_keys, earlier)
    old = Service(Settings(store=url, passages=False, lsh_threshold=0.3), store, bands_only)
    old.ingest([DocumentInput("harbour", ARCHIVED_EN)])
    old.close()
    # opened as configured then (bands only, 0.3) as well as with today's defaults
    Service.open(Settings(store=url, passages=False, lsh_threshold=0.3)).close()
    with TestClient(create_app(Settings(store=url))) as client:
        found = _check(client, ARCHIVED_EN)["paragraphs"][0]["matches"]
        assert [m["document_id"] for m in found] == ["harbour"]


def test_a_store_with_other_fingerprints_is_still_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/other.db"
    Service.open(Settings(store=url, passage_kgram=5)).close()
    with pytest.raises(SchemeMismatch, match="passages=winnow-k5-w4"):
        Service.open(Settings(store=url))


LONG_ARCHIVED = (
    "The regional council met on Tuesday evening in the old town hall to discuss the budget. "
    "Councillors argued for three hours about the cost of the new tram line to the airport. "
    "The opposition said the project had doubled in price since the first estimates were published. "
    "The mayor replied that inflation and the price of steel explained most of the increase. "
    "A vote on the final budget is expected before the end of the month, after a public consultation. "
    "Residents of the eastern districts have asked for a second line that would serve their schools."
)


@pytest.mark.parametrize("passages", [True, False])
def test_a_paragraph_cut_to_one_sentence_is_verified_through_its_shared_words(
    tmp_path: Path, passages: bool
) -> None:
    # Bands tuned for Jaccard 0.5 rarely propose a sixth of a paragraph
    # (Jaccard about 0.15); its shared runs of words do, and its exact
    # containment (1.0) makes it a match.
    cut = "The opposition said the project had doubled in price since the first estimates were published."
    settings = Settings(store=f"sqlite:///{tmp_path}/cut.db", lsh_threshold=0.5, passages=passages)
    service = Service.open(settings)
    try:
        service.ingest([DocumentInput("council", LONG_ARCHIVED)])
        (result,) = service.check(cut)
        assert bool(result.matches) is passages
        if passages:
            assert result.matches[0].containment == 1.0
            (passage,) = result.passages
            assert passage.text == cut.removesuffix(".")
    finally:
        service.close()


def test_paradup_check_json_carries_passages_and_reuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import main

    store = f"sqlite:///{tmp_path}/cli.db"
    service = Service.open(Settings(store=store))
    service.ingest([DocumentInput("harbour", ARCHIVED_EN)])
    service.close()
    article = tmp_path / "article.txt"
    article.write_text(UNRELATED_EN + "\n\n" + FRESH, encoding="utf-8")
    capsys.readouterr()
    # passages alone leave the exit code of a clean article (0: no duplicate)
    assert main(["check", "--store", store, "--json", str(article)]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["duplicate"] is False and body["reuse"] is True
    (passage,) = body["paragraphs"][2]["passages"]
    assert passage["document_id"] == "harbour" and passage["text"] == QUOTE
