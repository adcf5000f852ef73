"""Passages on the review page, in headless Chromium: the reused words
highlighted in their paragraph, the source beside them word by word."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.articles import ARCHIVED_EN
from tests.conftest import Server
from tests.test_review_page import browser, strict_page

__all__ = ["browser"]  # the fixture, shared with the page's other tests
# Real servers (uvicorn processes, Chromium): `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


# Paragraphs of our own. The second quotes two thirds of ARCHIVED_EN's first
# paragraph (too little of it for a near-duplicate match) with one word
# changed, after an emoji (one character for the API, two UTF-16 units for
# the browser); the third repeats words of the first.
HARBOUR_FIRST = ARCHIVED_EN.split("\n\n")[0]
QUOTE_EDITED = HARBOUR_FIRST[HARBOUR_FIRST.index("the northern") :].replace("found", "spotted")
PASSAGE_ARTICLE = [
    "Council members met on Thursday evening to discuss the future of the old fish market, which "
    "has stood empty since the spring and which several groups would like to turn into a hall.",
    "🌊 Residents of the waterfront, who had been warned weeks earlier, read it in the morning "
    f"papers: {QUOTE_EDITED} Shop owners near the quay fear a quiet winter and ask for help.",
    "Nobody at the meeting wanted to decide quickly about the building. The old fish market has "
    "stood empty since the spring and which several groups would like to turn into a hall.",
]


def _texts(page, selector: str) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")  # type: ignore[no-any-return]


@pytest.mark.parametrize("fmt", ["text", "html"])
def test_review_page_shows_passages_word_by_word(browser, tmp_path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    if fmt == "html":
        article = "<h1>Market</h1>" + "".join(f'<p class="x">{p}</p>' for p in PASSAGE_ARTICLE)
    else:
        article = "\n\n".join(PASSAGE_ARTICLE)
    with Server(f"sqlite:///{tmp_path}/passages.db") as server:
        httpx.post(server.url + "/ingest", json={"id": "2026/harbour", "text": ARCHIVED_EN}, timeout=30)
        answer = httpx.post(server.url + "/check", json={"text": article, "format": fmt}, timeout=30).json()
        first = 1 if fmt == "html" else 0  # the heading is a paragraph of its own
        quoting, repeating = (answer["paragraphs"][first + i] for i in (1, 2))
        (archived,) = quoting["passages"]
        (repeated,) = repeating["passages"]
        assert (answer["duplicate"], answer["reuse"], archived["source"], repeated["source"]) == (
            False, True, "archive", "article",
        )  # fmt: skip
        violations: list[str] = []
        page = strict_page(browser, violations, viewport={"width": 1400, "height": 1000})
        page.goto(server.url + "/")
        page.fill("#article", article)
        page.select_option("#format", fmt)
        page.click("#check")
        page.wait_for_selector("#results .para")
        total = len(answer["paragraphs"])
        summary = f"No duplicates among {total} paragraphs, but 2 hold reused passages"
        assert page.text_content("#summary") == summary
        box = f"#p-{quoting['index']}"
        # the reused words are highlighted in place, in the paragraph's own text
        assert _texts(page, f"{box} .text mark.reused") == [archived["text"]]
        assert page.text_content(f"{box} .text") == quoting["text"]
        # beside it the source, word by word: the changed word differs, the rest is shared
        assert _texts(page, f"{box} .passage .checked .differs") == ["spotted"]
        assert _texts(page, f"{box} .passage .source .differs") == ["found"]
        shared = _texts(page, f"{box} .passage .checked .same")
        assert "pier" in shared and "corrosion" in shared
        assert "".join(_texts(page, f"{box} .passage .source .w")) == "".join(archived["source_text"].split())
        head = page.text_content(f"{box} .passage-head") or ""
        assert "archived document 2026/harbour, paragraph 1" in head
        page.click(f"{box} .passage .source-link")
        page.locator(f"{box} .passage .source-meta", has_text="2026/harbour").wait_for()
        # the repeat inside the article links to the earlier paragraph
        repeat_box = f"#p-{repeating['index']}"
        assert _texts(page, f"{repeat_box} .text mark.reused") == [repeated["text"]]
        earlier = f"#p-{repeated['paragraph_index']}"
        assert page.get_attribute(f"{repeat_box} .passage-head a", "href") == earlier
        # "The" matches "the" (the index folds case); the source's extra words differ
        assert _texts(page, f"{repeat_box} .passage .checked .differs") == []
        assert _texts(page, f"{repeat_box} .passage .source .differs") == [",", "which"]
        if fmt == "text":
            shot = tmp_path / "review-passages.png"
            page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("PARADUP_SCREENSHOT_DIR"):
                shutil.copy(shot, Path(os.environ["PARADUP_SCREENSHOT_DIR"]) / "review-passages.png")
        assert violations == []
        page.close()


def test_review_page_reads_answers_without_passages(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An older server's answer (no passages, no reuse) renders as before."""
    article = "\n\n".join(PASSAGE_ARTICLE)
    with Server(f"sqlite:///{tmp_path}/older.db") as server:
        httpx.post(server.url + "/ingest", json={"id": "2026/harbour", "text": ARCHIVED_EN}, timeout=30)
        answer = httpx.post(server.url + "/check", json={"text": article}, timeout=30).json()
        assert any(p["passages"] for p in answer["paragraphs"])
        del answer["reuse"]
        for p in answer["paragraphs"]:
            del p["passages"]
        violations: list[str] = []
        page = strict_page(browser, violations)
        page.route("**/check", lambda route: route.fulfill(json=answer))
        page.goto(server.url + "/")
        page.fill("#article", article)
        page.click("#check")
        page.wait_for_selector("#results .para")
        assert page.text_content("#summary") == "No duplicates among 3 paragraphs"
        assert page.locator("#results mark, #results .passage").count() == 0
        assert _texts(page, "#results .para .text") == [p["text"] for p in answer["paragraphs"]]
        assert violations == []
        page.close()


def test_review_page_diffs_chinese_by_character(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A hand-built answer (the page draws whatever /check answers): offsets
    count code points, the passage occurs twice and its offsets name the
    second, Chinese is compared character by character, text stays text."""
    sentence = "北京市政府周一宣布新的交通计划。"
    text = f"😀 {sentence}{sentence}"
    at = len(text) - len(sentence)
    passage = {
        "start": 10 + at, "end": 10 + len(text), "source": "archive", "document_id": "<b>zh</b>",
        "paragraph_index": 0, "source_start": 4, "source_end": 20, "text": sentence,
        "source_text": "北京市政府周二宣布新的交通计划。<img src=x onerror=\"document.title='pwned'\">",
    }  # fmt: skip
    paragraph = {
        "index": 0, "start": 10, "end": 10 + len(text), "text": text, "status": "unique", "short": False,
        "boilerplate": False, "boilerplate_documents": 0, "allowlisted": False, "matches": [],
        "passages": [passage],
    }  # fmt: skip
    # a verbatim passage: said, and not shown twice
    verbatim = {**paragraph, "index": 1, "passages": [{**passage, "source_text": sentence}]}
    answer = {"duplicate": False, "reuse": True, "paragraphs": [paragraph, verbatim], "ingested": None}
    with Server(f"sqlite:///{tmp_path}/zh.db") as server:
        violations: list[str] = []
        page = strict_page(browser, violations)
        page.route("**/check", lambda route: route.fulfill(json=answer))
        page.goto(server.url + "/")
        page.fill("#article", "any text: the answer above is drawn")
        page.click("#check")
        page.wait_for_selector("#results .para")
        assert _texts(page, "#p-0 .text mark.reused") == [sentence]
        before = page.eval_on_selector("#p-0 .text mark", "m => m.previousSibling.textContent")
        assert before == f"😀 {sentence}"
        assert _texts(page, "#p-0 .passage .checked .differs") == ["一"]
        # the source's markup is text, its characters tokens like any other
        assert _texts(page, "#p-0 .passage .source .differs")[0] == "二"
        assert page.locator("#results img, #results b").count() == 0
        assert "archived document <b>zh</b>" in (page.text_content("#p-0 .passage-head") or "")
        assert "14 of 15 words shared" in (page.text_content("#p-0 .passage-head") or "")
        assert page.title() != "pwned"
        assert "word for word, 15 words" in (page.text_content("#p-1 .passage-head") or "")
        assert page.locator("#p-1 .compare").count() == 0
        assert _texts(page, "#p-1 .text mark.reused") == [sentence]
        assert violations == []
        page.close()
