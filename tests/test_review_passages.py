"""Passages on the review page, in headless Chromium: the reused words
highlighted in their paragraph, the source beside them word by word."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Server
from tests.test_review_page import browser, strict_page

__all__ = ["browser"]  # the fixture, shared with the page's other tests
# Real servers (uvicorn processes, Chromium): `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


def _texts(page, selector: str) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")  # type: ignore[no-any-return]


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
    answer = {"duplicate": False, "reuse": True, "paragraphs": [paragraph], "ingested": None}
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
        assert violations == []
        page.close()
