"""Stores made with the fingerprint defaults of their time, opened on their
own bands when no band setting is given (docs/quality.md: "Stores created
with 27 x 2 bands", "Stores created before passages")."""

from __future__ import annotations

import logging

from app.engine.fingerprint import Fingerprinter, fingerprinter
from app.settings import Settings
from app.store import SchemeMismatch, Store, open_store

log = logging.getLogger("paradup")

# The LSH threshold of stores created before passages existed (49 x 2
# bands), and of those created with passages before 27 x 3 (27 x 2).
LSH_THRESHOLD_BEFORE_PASSAGES = 0.3
LSH_THRESHOLD_BEFORE_3_ROWS = 0.4


def _defaults_of_their_time(settings: Settings) -> bool:
    """Neither band setting given: a store keeps the bands it was made with."""
    return not settings.model_fields_set & {"lsh_threshold", "lsh_bands"}


def open_with_earlier_bands(
    settings: Settings, fp: Fingerprinter, mismatch: SchemeMismatch
) -> tuple[Store, Fingerprinter]:
    """The store opened as one created with earlier defaults (27 x 2 bands
    with passages, or before passages), or ``mismatch``."""
    for earlier in fingerprinters_for(settings, fp)[1:]:
        for scheme in (earlier.scheme, earlier.earlier_scheme):
            if scheme is None:
                continue
            try:
                store = open_store(settings.store, earlier.band_keys, scheme, settings.resident)
            except SchemeMismatch:
                continue
            _say_which(settings, fp, earlier)
            return store, earlier
    raise mismatch from None


def _say_which(settings: Settings, fp: Fingerprinter, earlier: Fingerprinter) -> None:
    if earlier.passages is not None:
        log.info(
            "store %s has the LSH bands of its time (%d x %d) and keeps them; a store created now "
            "has %d x %d, which propose fewer unrelated candidates (re-ingest the archive to use them)",
            settings.store,
            earlier.bands.bands,
            earlier.bands.rows,
            fp.bands.bands,
            fp.bands.rows,
        )
        return
    log.warning(
        "store %s has no passage postings (created before passages existed): its bands "
        "(%d x %d) are used, and passages against the archive are limited to near-duplicate "
        "matches; re-ingest the archive into a new store to index them",
        settings.store,
        earlier.bands.bands,
        earlier.bands.rows,
    )


def fingerprinters_for(settings: Settings, fp: Fingerprinter) -> list[Fingerprinter]:
    """The fingerprints a store opened with these settings may hold, as
    ``Service.open`` accepts them: ``fp``'s, its bands alone (a store made
    before passages), and with neither band setting given the earlier
    defaults' (27 x 2 with passages, 49 x 2 without)."""
    found = [fp]
    if _defaults_of_their_time(settings) and fp.passages is not None:
        found.append(
            fingerprinter(settings.model_copy(update={"lsh_threshold": LSH_THRESHOLD_BEFORE_3_ROWS}))
        )
    found.append(fp.without_postings())
    if _defaults_of_their_time(settings):
        found.append(
            fingerprinter(
                settings.model_copy(
                    update={"lsh_threshold": LSH_THRESHOLD_BEFORE_PASSAGES, "passages": False}
                )
            )
        )
    return found


def schemes_for(settings: Settings, fp: Fingerprinter) -> list[str]:
    """The schemes of ``fingerprinters_for``, each with its earlier name."""
    names = [(f.scheme, f.earlier_scheme) for f in fingerprinters_for(settings, fp)]
    return [name for pair in names for name in pair if name is not None]


def fingerprinter_of(settings: Settings, fp: Fingerprinter, stored: str | None) -> Fingerprinter:
    """The one of ``fingerprinters_for`` that made a store whose recorded
    scheme is ``stored`` (``fp`` when none did: the store then refuses it)."""
    for candidate in fingerprinters_for(settings, fp):
        if stored in (candidate.scheme, candidate.earlier_scheme):
            return candidate
    return fp
