"""``paradup check --url`` and ``paradup ingest --url`` against a real uvicorn server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from tests.articles import ARCHIVED_EN, SEED_SHAPED_FR, UNRELATED_EN
from tests.conftest import Server
from tests.live_server import free_port

pytestmark = pytest.mark.slow
KEY = "cli-test-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store = f"sqlite:///{tmp_path_factory.mktemp('remote')}/served.db"
    live = Server(store, env={"PARADUP_API_KEY": KEY})
    live.start()
    try:
        yield live
    finally:
        live.stop()


def _archive(path: Path) -> Path:
    docs = [
        {"id": "harbour", "text": UNRELATED_EN},
        {"id": "seed", "text": SEED_SHAPED_FR, "metadata": {"desk": "city"}},
        {"id": "harbour", "text": ARCHIVED_EN},  # the later version is the one kept
    ]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def test_check_and_ingest_over_http_match_a_local_store(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _archive(tmp_path / "archive.jsonl")
    local = ["--store", f"sqlite:///{tmp_path}/local.db"]
    remote = ["--url", server.url, "--key", KEY]
    for where in (local, remote):
        assert main(["ingest", *where, "--quiet", str(archive)]) == 0
        assert "3 documents (2 created, 1 updated, 0 unchanged), 10 paragraphs" in capsys.readouterr().err

    article = tmp_path / "article.txt"
    article.write_text(ARCHIVED_EN.split("\n\n")[1] + "\n\n" + UNRELATED_EN, encoding="utf-8")
    answers = {}
    for name, where in (("local", local), ("remote", remote)):
        assert main(["check", *where, "--json", str(article)]) == 1
        answers[name] = capsys.readouterr().out
        assert main(["check", *where, str(article)]) == 1
        answers[f"{name} report"] = capsys.readouterr().out
    assert answers["remote"] == answers["local"]
    assert answers["remote report"] == answers["local report"]
    assert json.loads(answers["remote"])["paragraphs"][0]["matches"][0]["document_id"] == "harbour"
    assert "↳ repeats archived document harbour" in answers["remote report"]

    clean = tmp_path / "clean.txt"
    clean.write_text("A council meeting about parking rules ran late into the evening on Tuesday night.")
    assert main(["check", "--url", server.url, str(clean)]) == 0  # reads need no key here
    assert main(["check", "--url", server.url, "--threshold", "0", str(clean)]) == 2
    assert "threshold" in capsys.readouterr().err


def test_a_wrong_or_missing_key_exits_2_with_a_clear_message(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _archive(tmp_path / "archive.jsonl")
    assert main(["ingest", "--url", server.url, "--key", "wrong", "--quiet", str(archive)]) == 2
    err = capsys.readouterr().err
    assert "HTTP 401: invalid API key" in err
    assert "--key" in err
    monkeypatch.delenv("PARADUP_KEY", raising=False)
    assert main(["ingest", "--url", server.url, "--quiet", str(archive)]) == 2
    assert "HTTP 401: missing API key" in capsys.readouterr().err
    monkeypatch.setenv("PARADUP_KEY", KEY)
    assert main(["ingest", "--url", server.url, "--quiet", str(archive)]) == 0


def test_a_refused_batch_names_the_file_and_line(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "blank.jsonl"
    docs = [{"id": "fine", "text": UNRELATED_EN}, {"id": "blank", "text": "   "}]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    assert main(["ingest", "--url", server.url, "--key", KEY, "--quiet", str(path)]) == 2
    err = capsys.readouterr().err
    assert "blank.jsonl:2:" in err
    assert "'blank' is empty" in err
    assert server.client.get("/documents/fine").status_code == 404  # the batch is atomic


def test_an_unreachable_service_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    article = tmp_path / "a.txt"
    article.write_text(UNRELATED_EN, encoding="utf-8")
    nobody = f"http://127.0.0.1:{free_port()}"
    assert main(["check", "--url", nobody, str(article)]) == 2
    assert f"cannot reach {nobody}" in capsys.readouterr().err
    assert main(["check", "--url", "ftp://example.invalid", str(article)]) == 2
    assert "expected http://host:port" in capsys.readouterr().err
    assert main(["check", "--key", KEY, str(article)]) == 2
    assert "--key goes with --url" in capsys.readouterr().err
