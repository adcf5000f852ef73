"""Bulk ingest of a JSON-lines file by preparing processes that read it
(``ingest_file``): the same store as the documents read and written one
transaction at a time, and the same order of errors."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

import app.engine.bulk
from app.cli.sources import Source
from app.engine import DocumentInput, Service
from app.engine.bulk import ingest_file, ingest_stream
from app.engine.bulk_files import NotUtf8
from app.engine.records import BadLine, FieldMap
from app.settings import Settings
from app.store.sqlite_driver import sqlite3
from tests.test_ingest_pipeline import long_article


def blocks(path: Path, size: int) -> list[tuple[int, int, int]]:
    class Args:
        file, csv, id_field, text_field, format = str(path), False, "id", "text", None
        metadata_field, all_metadata = None, False

    return list(Source(Args()).blocks(size))  # type: ignore[arg-type]


def records() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(60):
        out.append({"id": f"d{i}", "text": long_article(f"d{i}"), "metadata": {"n": i, "é": [i, "x"]}})
    out.append({"id": "d5", "text": long_article("d5 again")})  # a repeated id: the later version wins
    out.append({"id": "d7", "text": long_article("d7"), "metadata": {"n": 7, "é": [7, "x"]}})  # unchanged
    return out


def write_lines(path: Path, rows: list[dict[str, object]], newline: str = "\n") -> None:
    body = newline.join(json.dumps(r, ensure_ascii=False) for r in rows) + newline
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())


def tables(db: Path) -> list[list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    queries = [
        "SELECT pk, id, digest, metadata, first, paragraphs FROM documents ORDER BY pk",
        "SELECT ref, doc, text FROM paragraphs ORDER BY ref",
        "SELECT key, value FROM meta WHERE key IN ('next_ref', 'documents', 'paragraphs') ORDER BY key",
        'SELECT first, "end" FROM dead ORDER BY first',
    ]
    out = [conn.execute(q).fetchall() for q in queries]
    conn.close()
    return out


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_file_read_by_the_preparing_processes_makes_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str
) -> None:
    monkeypatch.setattr(app.engine.bulk, "WRITE_PARAGRAPHS", 20)
    path = tmp_path / "in.jsonl"
    rows = records()
    write_lines(path, rows, newline)
    plain = Service.open(Settings(store=f"sqlite:///{tmp_path}/plain.db"))
    docs = [DocumentInput(str(r["id"]), str(r["text"]), "text", r.get("metadata", {})) for r in rows]  # type: ignore[arg-type]
    want = ingest_stream(plain, docs, lambda n, s: None)
    plain.close()
    packed = Service.open(Settings(store=f"sqlite:///{tmp_path}/packed.db"))
    got = ingest_file(packed, str(path), FieldMap(), blocks(path, 2000), lambda n, s: None)
    assert got == want and got[0] == {"created": 60, "updated": 1, "unchanged": 1}
    for i in (0, 33):  # the index answers the same
        result = packed.check(long_article(f"d{i}"))[0]
        assert {m.document_id for m in result.matches} == {f"d{i}"}
    packed.close()
    assert tables(tmp_path / "packed.db") == tables(tmp_path / "plain.db")


def test_a_bad_line_stops_the_file_after_whole_transactions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.engine.bulk, "WRITE_PARAGRAPHS", 12)
    path = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": f"d{i}", "text": long_article(f"d{i}")}) for i in range(40)]
    lines[30] = '{"id": "broken"'
    path.write_text("\n".join(lines) + "\n")
    service = Service.open(Settings(store=f"sqlite:///{tmp_path}/i.db"))
    with pytest.raises(BadLine) as raised:
        ingest_file(service, str(path), FieldMap(), blocks(path, 1500), lambda n, s: None)
    assert raised.value.number == 31
    stored = service.stats().documents
    # whole transactions before line 31 (cut at blocks of a few documents), none after
    assert 0 < stored < 30
    assert all(service.get(f"d{i}") is not None for i in range(stored))
    assert all(service.get(f"d{i}") is None for i in range(stored, 40))
    service.close()


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    good = [json.dumps({"id": f"d{i}", "text": long_article(f"d{i}")}).encode() for i in range(5)]
    path.write_bytes(b"\n".join([*good, b'{"id": "x", "text": "caf\xe9"}']) + b"\n")
    service = Service.open(Settings(store=f"sqlite:///{tmp_path}/u.db"))
    with pytest.raises(NotUtf8, match="at or after line 6"):
        ingest_file(service, str(path), FieldMap(), blocks(path, 1 << 20), lambda n, s: None)
    service.close()


def test_blocks_cover_the_file_in_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b"a\r\nbb\rccc\n\ndddd\ne")
    got = blocks(path, 3)
    assert got[0][0] == 0 and got[-1][1] == path.stat().st_size
    assert all(a[1] == b[0] for a, b in pairwise(got))
    data = path.read_bytes()
    assert all(data[end - 1 : end] == b"\n" for _, end, _ in got[:-1])
    # the first line of each block, counted as text mode counts lines
    for start, _, line in got:
        assert data[:start].decode().replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1 == line
