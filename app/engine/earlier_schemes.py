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


def _earlier_bands(settings: Settings, fp: Fingerprinter) -> tuple[Store, Fingerprinter] | None:
    """A store created with passages and the 27 x 2 bands of the default
    before 27 x 3, opened on its bands (None: the store is not one)."""
    if not _defaults_of_their_time(settings) or fp.passages is None:
        return None
    earlier = fingerprinter(settings.model_copy(update={"lsh_threshold": LSH_THRESHOLD_BEFORE_3_ROWS}))
    try:
        store = open_store(settings.store, earlier.band_keys, earlier.scheme)
    except SchemeMismatch:
        return None
    log.info(
        "store %s has the LSH bands of its time (%d x %d) and keeps them; a store created now "
        "has %d x %d, which propose fewer unrelated candidates (re-ingest the archive to use them)",
        settings.store,
        earlier.bands.bands,
        earlier.bands.rows,
        fp.bands.bands,
        fp.bands.rows,
    )
    return store, earlier


def open_with_earlier_bands(
    settings: Settings, fp: Fingerprinter, mismatch: SchemeMismatch
) -> tuple[Store, Fingerprinter]:
    """The store opened as one created with earlier defaults (27 x 2 bands
    with passages, or before passages), or ``mismatch``."""
    found = _earlier_bands(settings, fp)
    if found is not None:
        return found
    tries = [fp.without_postings()]
    if _defaults_of_their_time(settings):
        earlier = settings.model_copy(
            update={"lsh_threshold": LSH_THRESHOLD_BEFORE_PASSAGES, "passages": False}
        )
        tries.append(fingerprinter(earlier))
    attempts = [
        (bands_only, scheme)
        for bands_only in tries
        for scheme in (bands_only.scheme, bands_only.earlier_scheme)
        if scheme is not None
    ]
    for bands_only, scheme in attempts:
        try:
            store = open_store(settings.store, bands_only.band_keys, scheme)
        except SchemeMismatch:
            continue
        log.warning(
            "store %s has no passage postings (created before passages existed): its bands "
            "(%d x %d) are used, and passages against the archive are limited to near-duplicate "
            "matches; re-ingest the archive into a new store to index them",
            settings.store,
            bands_only.bands.bands,
            bands_only.bands.rows,
        )
        return store, bands_only
    raise mismatch from None
