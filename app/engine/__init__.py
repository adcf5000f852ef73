"""Detection engine: fingerprints bound to settings, checking, ingesting."""

from app.engine.check import Match, ParagraphResult, Thresholds
from app.engine.filters import ArchiveFilter
from app.engine.fingerprint import Fingerprinter
from app.engine.service import DocumentInput, IngestResult, InvalidDocument, Service

__all__ = [
    "ArchiveFilter",
    "DocumentInput",
    "Fingerprinter",
    "IngestResult",
    "InvalidDocument",
    "Match",
    "ParagraphResult",
    "Service",
    "Thresholds",
]
