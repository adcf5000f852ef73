"""Restricting archive matches by the archived documents' metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any


def as_datetime(value: object) -> datetime | None:
    """A date or ISO 8601 date-time (string or object) as an aware datetime;
    None when it is neither. Naive values are taken as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ArchiveFilter:
    """Archive matches are kept only from documents whose metadata passes.

    ``since``/``until`` compare the date in ``metadata[date_field]``
    (documents without a readable date are left out when either is set);
    ``metadata`` requires equal values, or one of the listed values.
    """

    since: datetime | None = None
    until: datetime | None = None
    date_field: str = "published"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def accepts(self, metadata: Mapping[str, Any]) -> bool:
        for key, wanted in self.metadata.items():
            have = metadata.get(key)
            if isinstance(wanted, list) and not isinstance(have, list):
                if have not in wanted:
                    return False
            elif have != wanted:
                return False
        if self.since is None and self.until is None:
            return True
        when = as_datetime(metadata.get(self.date_field))
        if when is None:
            return False
        return (self.since is None or when >= self.since) and (self.until is None or when <= self.until)
