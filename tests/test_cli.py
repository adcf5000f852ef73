from __future__ import annotations

import ast
import csv
import gc
import json
import os
import pty
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from app.cli import main, parser
from app.engine import DocumentInput, InvalidDocument, Service
from app.engine.bulk import PREPARE_DOCUMENTS
from app.settings import Settings
from app.store import StoredDocument
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


def _stored(store: str, doc_id: str) -> StoredDocument | None:
    service = Service.open(Settings(store=store))
    try:
        return service.get(doc_id)
    finally:
        service.close()


@pytest.mark.parametrize(
    ("documents_per_call", "process_min_bytes"), [(1, 0), (PREPARE_DOCUMENTS, 0), (1, 1 << 40)]
)
def test_a_repeated_document_is_written_as_its_later_version(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    documents_per_call: int,
    process_min_bytes: int,
) -> None:
    # 1: the repeat arrives after its first version was hashed on its own;
    # the default: both versions wait in the same hashing call. Prepared in
    # a process of its own (any file size), or in a thread (none).
    monkeypatch.setattr("app.engine.bulk.PREPARE_DOCUMENTS", documents_per_call)
    monkeypatch.setattr("app.engine.bulk.PROCESS_MIN_BYTES", process_min_bytes)
    store = f"sqlite:///{tmp_path}/repeat.db"
    jsonl = tmp_path / "repeat.jsonl"
    lines = [
        {"id": "harbour", "text": ARCHIVED_EN, "metadata": {"version": 1}},
        {"id": "orchestra", "text": UNRELATED_EN},
        {"id": "harbour", "text": SEED_SHAPED_FR, "metadata": {"version": 2}},
    ]
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert main(["ingest", "--store", store, "--quiet", str(jsonl)]) == 0
    assert "3 documents (2 created, 1 updated, 0 unchanged)" in capsys.readouterr().err
    stored = _stored(store, "harbour")
    assert stored is not None
    assert stored.metadata == {"version": 2}
    assert stored.paragraphs == [p.strip() for p in SEED_SHAPED_FR.split("\n")]
    assert main(["stats", "--store", store]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 2


def test_check_refuses_a_threshold_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    article = tmp_path / "a.txt"
    article.write_text(UNRELATED_EN, encoding="utf-8")
    store = f"sqlite:///{tmp_path}/t.db"
    for bad in ("0", "-0.5", "1.5", "nan"):
        assert main(["check", "--store", store, "--threshold", bad, str(article)]) == 2
        assert "threshold must be above 0 and at most 1" in capsys.readouterr().err
    assert main(["check", "--store", store, "--threshold", "1", str(article)]) == 0


def test_the_service_validates_its_numeric_parameters(service: Service) -> None:
    with pytest.raises(InvalidDocument, match="threshold must be above 0"):
        service.check(UNRELATED_EN, threshold=0.0)
    with pytest.raises(InvalidDocument, match="containment threshold must be above 0"):
        service.check(UNRELATED_EN, containment_threshold=1.01)
    doc = DocumentInput("a", UNRELATED_EN)
    with pytest.raises(InvalidDocument, match="threshold"):
        service.check_and_publish(doc, threshold=float("nan"))
    assert service.get("a") is None  # refused before anything was written
    with pytest.raises(InvalidDocument, match="limit must be at least 1"):
        service.allowlist(0)


def test_ingest_closes_the_file(tmp_path: Path) -> None:
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(json.dumps({"id": "harbour", "text": ARCHIVED_EN}) + "\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["ingest", "--store", f"sqlite:///{tmp_path}/c.db", "--quiet", str(jsonl)]) == 0
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def _run_in_terminal(args: list[str]) -> tuple[int, str]:
    """Exit code and everything the command wrote to a pseudo-terminal."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(), re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())


def test_the_progress_bar_ends_its_line_before_an_error(tmp_path: Path) -> None:
    jsonl = tmp_path / "half.jsonl"
    jsonl.write_text(json.dumps({"id": "ok", "text": ARCHIVED_EN}) + "\n{broken\n", encoding="utf-8")
    code, screen = _run_in_terminal(["ingest", "--store", f"sqlite:///{tmp_path}/p.db", str(jsonl)])
    assert code == 2
    assert "0/2" in screen  # the bar was drawn
    error_line = next(line for line in screen.splitlines() if "error:" in line)
    assert error_line.strip().startswith("error: ")
    assert "half.jsonl:2:" in error_line


NEWS_EXPORT = [
    {"guid": 101, "title": "Pier closes", "section": "city", "body": ARCHIVED_EN},
    {"guid": 102, "title": "Autumn concerts", "section": "culture", "body": UNRELATED_EN},
]


def test_ingest_refuses_unknown_fields_by_default_and_says_how_to_keep_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl = tmp_path / "news.jsonl"
    rows = [{"id": str(r["guid"]), "text": r["body"], "title": r["title"]} for r in NEWS_EXPORT]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["ingest", "--store", f"sqlite:///{tmp_path}/n.db", "--quiet", str(jsonl)]) == 2
    err = capsys.readouterr().err
    assert "news.jsonl:1: title: Extra inputs are not permitted" in err
    assert "--metadata-field title" in err


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
@pytest.mark.parametrize(
    ("keep", "metadata"),
    [
        (["--metadata-field", "title"], {"title": "Pier closes"}),
        (["--all-metadata"], {"title": "Pier closes", "section": "city"}),
    ],
)
def test_ingest_maps_an_export_onto_documents(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    keep: list[str],
    metadata: dict[str, str],
) -> None:
    path = tmp_path / f"news.{kind}"
    with path.open("w", encoding="utf-8", newline="") as out:
        if kind == "csv":
            writer = csv.DictWriter(out, fieldnames=list(NEWS_EXPORT[0]))
            writer.writeheader()
            writer.writerows(NEWS_EXPORT)  # the body's blank lines make multi-line cells
        else:
            out.writelines(json.dumps(r) + "\n" for r in NEWS_EXPORT)
    store = f"sqlite:///{tmp_path}/n.db"
    fields = ["--id-field", "guid", "--text-field", "body", *keep]
    assert main(["ingest", "--store", store, "--quiet", *fields, str(path)]) == 0
    assert "2 documents (2 created" in capsys.readouterr().err
    stored = _stored(store, "101")  # a numeric id becomes its decimal string
    assert stored is not None
    assert stored.metadata == metadata
    assert stored.paragraphs == ARCHIVED_EN.split("\n\n")


def test_csv_errors_name_the_line_a_row_starts_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.txt"  # not .csv: read as CSV because of --csv
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text", "format"])
        writer.writerow(["harbour", ARCHIVED_EN, "text"])  # lines 2 to 6
        writer.writerow(["orchestra", UNRELATED_EN, "pdf"])  # line 7
    store = f"sqlite:///{tmp_path}/e.db"
    assert main(["ingest", "--store", store, "--quiet", "--csv", str(path)]) == 2
    assert "export.txt:7: format: Input should be 'text' or 'html'" in capsys.readouterr().err
    assert main(["ingest", "--store", store, "--quiet", "--csv", "--text-field", "body", str(path)]) == 2
    assert "export.txt:1: no 'body' column; the columns are id, text, format" in capsys.readouterr().err


def test_ingest_format_option_sets_every_document_s_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pages.csv"
    path.write_text('id,text,format\npage,"<p>One.</p><p>Two.</p>",video\n', encoding="utf-8")
    store = f"sqlite:///{tmp_path}/f.db"
    args = ["ingest", "--store", store, "--quiet", "--format", "html", "--all-metadata", str(path)]
    assert main(args) == 0
    stored = _stored(store, "page")
    assert stored is not None
    assert (stored.paragraphs, stored.metadata) == (["One.", "Two."], {"format": "video"})


def test_a_document_the_service_refuses_is_named_by_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl = tmp_path / "refused.jsonl"
    docs = [{"id": "fine", "text": UNRELATED_EN}, {"id": "blank", "text": " \n "}]
    jsonl.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    assert main(["ingest", "--store", f"sqlite:///{tmp_path}/r.db", "--quiet", str(jsonl)]) == 2
    assert "refused.jsonl:2: document 'blank' is empty" in capsys.readouterr().err


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = tmp_path / "latin1.jsonl"
    jsonl.write_bytes(json.dumps({"id": "a", "text": "caf\u00e9"}, ensure_ascii=False).encode("latin-1"))
    assert main(["ingest", "--store", f"sqlite:///{tmp_path}/u.db", "--quiet", str(jsonl)]) == 2
    assert "latin1.jsonl: not valid UTF-8 (at or after line 1)" in capsys.readouterr().err


def test_the_cli_imports_nothing_from_the_http_layer() -> None:
    imported = set()
    for module in (Path(__file__).resolve().parent.parent / "app" / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert "app.engine.records" in imported  # the walk sees the CLI's imports
    assert sorted(m for m in imported if m == "app.api" or m.startswith("app.api.")) == []
