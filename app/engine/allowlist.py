"""Phrases a desk marks as fine to repeat (a standing disclaimer, a
newsletter pitch): archived as reserved documents, so they are found by the
same index and verified the same way as any paragraph, on every backend."""

from __future__ import annotations

from dataclasses import dataclass

import xxhash

PREFIX = "__allowlist__/"


@dataclass(frozen=True)
class AllowEntry:
    id: str
    text: str
    note: str


def entry_id(normalised: str) -> str:
    return PREFIX + xxhash.xxh64(normalised.encode()).hexdigest()


def is_entry(document_id: str | None) -> bool:
    return bool(document_id) and str(document_id).startswith(PREFIX)
