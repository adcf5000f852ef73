"""Per-code-point folding tables for the compiled kernel.

The kernel folds characters with two array look-ups instead of Python
string passes. The tables are generated (``python -m app.hashing.tablegen``
writes ``chartables.npz``) from the Unicode version ``UNICODE_VERSION``, which
they record: shipping the generated file pins the Unicode version, so
signatures do not change with the interpreter that computes them. Tables
cover the Basic Multilingual Plane; code points above it are word
characters, except the CJK extensions, which stand alone.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

# The Unicode version every shipped table is built from (Python 3.11's).
UNICODE_VERSION = "14.0.0"

SEPARATOR = 0  # ends a token
WORD = 1  # part of a token, replaced by mapped[cp]
DELETE = 2  # dropped without ending the token (soft hyphen, zero-width)
ALONE = 3  # a token by itself (scripts written without spaces)
MULTI = 4  # part of a token, replaced by several code points

PLANE = 0x10000
ASTRAL_ALONE = (0x20000, 0x3134F)  # CJK extensions B-G

TABLES_FILE = files("app.hashing").joinpath("chartables.npz")


class TablesUnusable(Exception):
    """A generated table is missing or was built from another Unicode version."""


class CharTables(NamedTuple):
    kind: npt.NDArray[np.uint8]  # one of the classes above, per BMP code point
    mapped: npt.NDArray[np.int32]  # WORD: replacement; MULTI: offset into extra
    extra: npt.NDArray[np.int32]  # MULTI replacements: length, then code points


def load_tables(path: Traversable, fields: tuple[str, ...]) -> list[npt.NDArray[Any]]:
    """The named arrays of a shipped table, read-only. Never rebuilt here:
    built from the running interpreter's Unicode data, they would change
    signatures without changing the store's scheme."""
    if not path.is_file():
        raise TablesUnusable(
            f"{path} is missing (an incomplete install?): reinstall paradup, or rebuild the tables "
            "with `python -m app.hashing.tablegen` (needs the `tables` extra)"
        )
    with path.open("rb") as file, np.load(file) as saved:
        version = str(saved["unicode"]) if "unicode" in saved.files else "an unrecorded version"
        if version != UNICODE_VERSION:
            raise TablesUnusable(
                f"{path} was built from Unicode {version}, not {UNICODE_VERSION}: "
                "rebuild it with `python -m app.hashing.tablegen`"
            )
        arrays = [saved[name] for name in fields]
    for array in arrays:
        array.setflags(write=False)
    return arrays


@lru_cache(maxsize=1)
def char_tables() -> CharTables:
    """The shipped folding tables."""
    return CharTables(*load_tables(TABLES_FILE, CharTables._fields))
