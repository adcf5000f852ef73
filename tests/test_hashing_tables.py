"""The generated tables: built from the pinned Unicode version, loaded or refused, part of the scheme."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app.engine.fingerprint import Fingerprinter
from app.hashing import charmap, minhash, nfkc, tablegen
from app.hashing.charmap import PLANE, UNICODE_VERSION, TablesUnusable, char_tables
from app.store import SchemeMismatch, open_store


@pytest.fixture
def fresh_tables() -> Iterator[None]:
    """Every table loader re-reads its file in the test, and again after it."""

    def clear() -> None:
        for cached in (charmap.char_tables, nfkc.nfkc_tables, minhash._tables):
            cached.cache_clear()

    clear()
    yield
    clear()


def test_shipped_tables_match_the_generator() -> None:
    """On the pinned Unicode version the generator rebuilds the shipped tables
    exactly; on any other, it refuses to build them at all."""
    if unicodedata.unidata_version != UNICODE_VERSION:
        with pytest.raises(tablegen.WrongUnicode, match=UNICODE_VERSION):
            tablegen.main()
        return
    built = tablegen.build_char_tables()
    for name, table in built._asdict().items():
        shipped = getattr(char_tables(), name)
        assert np.array_equal(shipped, table), f"{name}: run python -m app.hashing.tablegen"
    for name, table in tablegen.build_nfkc_tables(built)._asdict().items():
        shipped = getattr(nfkc.nfkc_tables(), name)
        assert np.array_equal(shipped, table), f"nfkc {name}: run python -m app.hashing.tablegen"


def test_shipped_tables_record_the_pinned_unicode_version() -> None:
    for path in (charmap.TABLES_FILE, nfkc.TABLES_FILE):
        with np.load(str(path)) as saved:
            assert str(saved["unicode"]) == UNICODE_VERSION


@pytest.mark.parametrize("module", [charmap, nfkc])
def test_a_missing_table_is_an_error_not_a_rebuild(
    module: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_tables: None
) -> None:
    monkeypatch.setattr(module, "TABLES_FILE", tmp_path / "gone.npz")
    with pytest.raises(TablesUnusable, match=r"gone\.npz is missing.*app\.hashing\.tablegen"):
        minhash.signatures(["a paragraph to sign"])


def _rewritten(path: Path, target: Path, unicode: str, change: str | None = None) -> Path:
    """A copy of the table at ``path``, recorded as built from ``unicode``,
    with array ``change`` altered at one code point."""
    with np.load(str(path)) as saved:
        arrays = {name: saved[name].copy() for name in saved.files if name != "unicode"}
    if change is not None:
        arrays[change][0x41] ^= 1
    np.savez_compressed(target, unicode=np.array(unicode), **arrays)
    return target


def test_a_table_from_another_unicode_version_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_tables: None
) -> None:
    other = _rewritten(Path(str(nfkc.TABLES_FILE)), tmp_path / "nfkc.npz", "15.0.0")
    monkeypatch.setattr(nfkc, "TABLES_FILE", other)
    with pytest.raises(TablesUnusable, match=r"Unicode 15\.0\.0, not 14"):
        nfkc.nfkc_tables()


def test_a_regenerated_nfkc_table_changes_the_scheme_of_an_existing_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_tables: None
) -> None:
    fingerprinter = Fingerprinter.create(128, 3, 0.3, 3)
    url = str(tmp_path / "index.db")
    open_store(url, fingerprinter.band_keys, fingerprinter.scheme).close()
    shipped = Path(str(nfkc.TABLES_FILE))
    regenerated = _rewritten(shipped, tmp_path / "nfkc.npz", UNICODE_VERSION, change="flags")
    monkeypatch.setattr(nfkc, "TABLES_FILE", regenerated)
    nfkc.nfkc_tables.cache_clear()
    with pytest.raises(SchemeMismatch):
        open_store(url, fingerprinter.band_keys, fingerprinter.scheme)


def test_nfkc_leaves_every_character_above_the_table_alone() -> None:
    """The kernel takes characters past nfkc.LIMIT as starters NFKC keeps."""
    changed = [
        hex(cp)
        for cp in range(nfkc.LIMIT, 0x110000)
        if unicodedata.combining(chr(cp)) or not unicodedata.is_normalized("NFKC", chr(cp))
    ]
    assert not changed


def test_kernel_buffers_hold_the_longest_output_of_one_code_point() -> None:
    chars, tables = char_tables(), nfkc.nfkc_tables()
    longest = 0
    for cp in range(nfkc.LIMIT):
        text = ""
        if tables.flags[cp] == nfkc.REPLACED:
            text = "".join(map(chr, tables.replacement(cp)))
        elif not 0xD800 <= cp <= 0xDFFF:
            text = unicodedata.normalize("NFKC", chr(cp)) if tables.flags[cp] == nfkc.UNSTABLE else chr(cp)
            text = text if len(text) == 1 else ""  # longer forms reach the kernel as several code points
        longest = max(longest, tablegen.output_bytes(text, chars))
    assert 0 < longest <= nfkc.BYTES_PER_CODE_POINT
    assert tablegen.output_bytes(chr(PLANE), chars) <= nfkc.BYTES_PER_CODE_POINT
