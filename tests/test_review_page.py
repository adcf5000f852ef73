"""The editors' review page, end to end in headless Chromium (Debian's
package, driven by Playwright with its executable path)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.articles import ARCHIVED_EN, SEED_SHAPED_FR
from tests.conftest import Server

# Real servers (uvicorn processes, Chromium): `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Background networking off: this machine has no network, and Chromium would
# otherwise keep trying to reach its update and sync services.
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (make test installs Debian's chromium package)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def test_review_page_highlights_and_links(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archived = ARCHIVED_EN.split("\n\n")[1]
    injected = "<img src=x onerror=\"document.title='pwned'\"> is shown as text, never run as markup here."
    article = "\n".join([SEED_SHAPED_FR, archived, injected])
    with Server(f"sqlite:///{tmp_path}/page.db") as server:
        httpx.post(
            server.url + "/ingest",
            json={
                "id": "2026/harbour",
                "text": ARCHIVED_EN,
                "metadata": {"section": "city", "published": "2026-11-02"},
            },
            timeout=30,
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url + "/")
        assert "paradup" in page.title()
        page.fill("#article", article)
        page.click("#check")
        page.wait_for_selector("#results .para")
        statuses = page.eval_on_selector_all("#results .para", "els => els.map(e => e.dataset.status)")
        assert statuses == ["unique", "unique", "unique", "duplicate", "duplicate", "duplicate", "unique"]
        assert page.text_content("#summary") == "3 of 7 paragraphs repeat earlier text"
        assert page.get_attribute("#p-3 .match a", "href") == "#p-1"
        assert "similarity 100%" in (page.text_content("#p-3 .match") or "")
        # the archived match links to its document, whose metadata the page shows
        page.click("#p-5 .doc-link")
        # locator waits, not wait_for_function: the page's CSP forbids eval
        page.locator("#p-5 .meta", has_text="city").wait_for()
        assert "2026/harbour" in (page.text_content("#p-5 .meta") or "")
        # text is rendered as text: the injected tag is not an element
        assert page.locator("#results img").count() == 0
        assert page.title() != "pwned"
        shot = tmp_path / "review.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("PARADUP_SCREENSHOT_DIR"):
            shutil.copy(shot, Path(os.environ["PARADUP_SCREENSHOT_DIR"]) / "review.png")
        page.close()


def test_review_page_uploads_html(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    upload = tmp_path / "article.html"
    first, second, _ = ARCHIVED_EN.split("\n\n")
    upload.write_text(f"<h1>Harbour</h1><p>{first}</p><p>{second}</p><p>{first}</p>", encoding="utf-8")
    with Server(f"sqlite:///{tmp_path}/upload.db") as server:
        page = browser.new_page()
        page.goto(server.url + "/")
        page.set_input_files("#file", str(upload))
        # the page reads the file asynchronously: wait for it, never for a time
        playwright.expect(page.locator("#format")).to_have_value("html")
        playwright.expect(page.locator("#article")).to_have_value(upload.read_text(encoding="utf-8"))
        page.click("#check")
        page.wait_for_selector("#results .para")
        statuses = page.eval_on_selector_all("#results .para", "els => els.map(e => e.dataset.status)")
        assert statuses == ["unique", "unique", "unique", "duplicate"]
        page.close()


def test_review_page_shows_api_errors(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"PARADUP_API_KEY": "desk", "PARADUP_AUTH_READS": "true"}
    with Server(f"sqlite:///{tmp_path}/auth.db", env=env) as server:
        page = browser.new_page()
        page.goto(server.url + "/")
        page.fill("#article", SEED_SHAPED_FR)
        page.click("#check")
        page.locator("#error", has_text="401").wait_for()
        assert (page.text_content("#error") or "").startswith("401")
        page.fill("#key", "desk")
        page.click("#check")
        page.wait_for_selector("#results .para")
        page.close()
