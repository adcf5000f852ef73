"""The editors' review page, end to end in headless Chromium (Debian's
package, driven by Playwright with its executable path)."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.articles import ARCHIVED_EN, SEED_SHAPED_FR
from tests.conftest import Server
from tests.test_web_security import DECOY_IDS, DOT_IDS, TRICKY_IDS, distinct_paragraph, ingest_all

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


# Reports each CSP violation to the console, where the test collects it (the
# init script runs before the page's own, and is not subject to its CSP).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


def strict_page(browser, violations: list[str], **options):  # type: ignore[no-untyped-def]
    """A page whose console errors (CSP violations among them) land in ``violations``."""
    page = browser.new_page(**options)
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda msg: violations.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: violations.append(f"uncaught: {err}"))
    return page


def assert_violations_are_reported(page) -> None:  # type: ignore[no-untyped-def]
    """The control: an inline script, which the CSP must refuse, is reported."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text))
    page.evaluate("""() => {
      const s = document.createElement("script");
      s.textContent = "document.title = 'inline ran'";
      document.body.append(s);
    }""")
    page.locator("body").click(position={"x": 1, "y": 1})  # lets the event reach the console
    playwright.expect(page).not_to_have_title("inline ran")
    assert any(m.startswith("CSP violation: script-src") for m in seen), seen


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
        violations: list[str] = []
        page = strict_page(browser, violations, viewport={"width": 1400, "height": 1000})
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
        assert violations == []
        assert_violations_are_reported(page)
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


def test_review_page_opens_the_document_of_any_id(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Each archived match opens its own document, whatever its id holds:
    "xss/../a1" shows xss/../a1, not a1; "xss/../../stats" never fetches /stats."""
    linked = TRICKY_IDS + DOT_IDS
    with Server(f"sqlite:///{tmp_path}/ids.db") as server:
        ingest_all(server.client.post, linked + DECOY_IDS)
        violations: list[str] = []
        fetched: list[str] = []
        page = strict_page(browser, violations)
        page.on("request", lambda request: fetched.append(request.url))
        page.goto(server.url + "/")
        page.fill("#article", "\n\n".join(distinct_paragraph(i) for i in linked))
        page.click("#check")
        page.wait_for_selector("#results .para")
        # a document's box appears only once its link is clicked
        playwright.expect(page.locator("#results .meta").first).to_be_hidden()
        for index, doc_id in enumerate(linked):
            link = page.locator(f"#p-{index} .doc-link")
            playwright.expect(link).to_have_text(f"archived document {doc_id}")
            link.click()
            meta = page.locator(f"#p-{index} .meta")
            playwright.expect(meta).to_contain_text(f"doc:{doc_id}")
            assert (meta.text_content() or "").startswith(f"document {doc_id} · 1 paragraphs")
        documents = [url for url in fetched if "/documents" in url]
        assert len(documents) == len(linked)
        assert not any(url.endswith("/stats") for url in fetched)
        assert violations == []
        page.close()


def test_docs_page_runs_under_its_csp(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Swagger UI comes from the installed package, not a CDN, and renders
    the API under a CSP without 'unsafe-inline'."""
    with Server(f"sqlite:///{tmp_path}/docs.db") as server:
        violations: list[str] = []
        fetched: list[str] = []
        page = strict_page(browser, violations)
        page.on("request", lambda request: fetched.append(request.url))
        page.goto(server.url + "/docs")
        playwright.expect(page.locator(".swagger-ui .info .title")).to_contain_text("paradup")
        playwright.expect(page.locator(".opblock-summary-path", has_text="/check")).to_have_count(1)
        page.locator(".opblock-summary-path", has_text="/check").click()
        playwright.expect(page.locator(".opblock-body").first).to_be_visible()
        assert fetched and all(url.startswith(server.url + "/") for url in fetched), fetched
        assert violations == []
        assert_violations_are_reported(page)
        page.close()


@contextmanager
def another_site(html: str) -> Iterator[str]:
    """A plain HTTP server on its own port (another origin, and another site
    by its host name) that serves ``html``; yields its address."""
    body = html.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_another_site_cannot_write_through_the_editors_browser(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A page on another site POSTs a Blob (no Content-Type, so no CORS
    preflight) to /ingest from the editor's browser: paradup refuses it.
    Both are on loopback, so Chromium's local network rules do not step in
    (they would not for an intranet page either, nor in other browsers)."""
    with Server(f"sqlite:///{tmp_path}/csrf.db") as server:
        target = server.url + "/ingest"
        document = {"id": "planted", "text": distinct_paragraph("planted")}
        attack = f"""<!doctype html><title>loading</title><script>
          fetch({target!r}, {{ method: "POST", mode: "no-cors", body: new Blob([{json.dumps(document)!r}]) }})
            .then(() => {{ document.title = "sent"; }}, () => {{ document.title = "failed"; }});
        </script>"""
        page = browser.new_page()
        with another_site(attack) as evil, page.expect_response(target) as sent:
            page.goto(evil + "/")
            playwright.expect(page).to_have_title("sent")
        assert sent.value.status == 403
        assert server.client.get("/documents/planted").status_code == 404
        page.close()
