from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main, parser
from tests.articles import ARCHIVED_EN, SEED_SHAPED_FR, UNRELATED_EN


@pytest.mark.parametrize("command", [[], ["serve"], ["ingest"], ["check"], ["stats"]])
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: paradup" in out
    assert len(out.splitlines()) > 3


def test_all_subcommands_are_listed() -> None:
    help_text = parser().format_help()
    for name in ("serve", "ingest", "check", "stats"):
        assert name in help_text


def test_check_exit_codes(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/cli.db"
    dup = tmp_path / "dup.txt"
    dup.write_text(SEED_SHAPED_FR, encoding="utf-8")
    clean = tmp_path / "clean.txt"
    clean.write_text(UNRELATED_EN, encoding="utf-8")
    assert main(["check", "--store", store, str(dup)]) == 1
    assert main(["check", "--store", store, str(clean)]) == 0
    assert main(["check", "--store", store, str(tmp_path / "missing.txt")]) == 2
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    assert main(["check", "--store", store, str(empty)]) == 2


def test_ingest_then_check_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = f"sqlite:///{tmp_path}/cli.db"
    jsonl = tmp_path / "docs.jsonl"
    lines = [
        json.dumps({"id": "harbour", "text": ARCHIVED_EN, "metadata": {"desk": "city"}}),
        "",
        json.dumps({"id": "orchestra", "text": f"<p>{UNRELATED_EN}</p>", "format": "html"}),
    ]
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["ingest", "--store", store, "--quiet", str(jsonl)]) == 0
    summary = capsys.readouterr()
    assert "2 documents (2 created" in summary.out + summary.err

    article = tmp_path / "article.txt"
    article.write_text(ARCHIVED_EN.split("\n\n")[0], encoding="utf-8")
    assert main(["check", "--store", store, "--json", str(article)]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["paragraphs"][0]["matches"][0]["document_id"] == "harbour"

    assert main(["stats", "--store", store]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["documents"], stats["paragraphs"]) == (2, 4)


def test_ingest_reports_the_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text(json.dumps({"id": "ok", "text": "fine"}) + "\n{broken\n", encoding="utf-8")
    assert main(["ingest", "--store", f"sqlite:///{tmp_path}/x.db", "--quiet", str(jsonl)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_console_script_runs(tmp_path: Path) -> None:
    article = tmp_path / "a.txt"
    article.write_text(SEED_SHAPED_FR, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "check", "--store", f"sqlite:///{tmp_path}/c.db", str(article)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "2 of 5 paragraphs are duplicates" in result.stdout


def test_ingest_refuses_reserved_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = tmp_path / "reserved.jsonl"
    jsonl.write_text(json.dumps({"id": "__allowlist__/x", "text": ARCHIVED_EN}) + "\n", encoding="utf-8")
    assert main(["ingest", "--store", f"sqlite:///{tmp_path}/r.db", "--quiet", str(jsonl)]) == 2
    assert "reserved" in capsys.readouterr().err
