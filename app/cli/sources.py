"""Files ``paradup ingest`` reads: JSON lines, or CSV by ``--csv`` or the
``.csv`` extension; ``--id-field``, ``--text-field``, ``--format`` and the
metadata options map an export's fields onto documents."""

from __future__ import annotations

import argparse
import csv
from collections.abc import Generator, Iterator
from pathlib import Path

from app.engine.records import BadLine, DocumentIn, FieldMap, documents_from_csv, documents_from_lines

EXTRA_FIELD = "Extra inputs are not permitted"


class SourceError(Exception):
    """A file that cannot be read as documents; the message names the file and line."""


class Source:
    def __init__(self, args: argparse.Namespace) -> None:
        self.path = Path(args.file)
        if not self.path.is_file():
            raise SourceError(f"{self.path}: no such file")
        self.csv = bool(args.csv) or self.path.suffix.lower() == ".csv"
        self.fields = FieldMap(
            id=args.id_field,
            text=args.text_field,
            format=args.format,
            keep=tuple(args.metadata_field or ()),
            keep_all=args.all_metadata,
        )

    def _open(self) -> Generator[str, None, None]:
        # utf-8-sig: spreadsheet exports often start with a byte order mark.
        with self.path.open(encoding="utf-8-sig", newline="" if self.csv else None) as lines:
            number = 0
            try:
                for line in lines:
                    number += 1
                    yield line
            except UnicodeDecodeError:
                # Decoded by blocks: the fault is at or after the next line.
                raise SourceError(f"{self.path}: not valid UTF-8 (at or after line {number + 1})") from None

    def count(self) -> int:
        """Documents in the file, for the progress bar (records, not lines, for CSV)."""
        if self.csv:
            return max(sum(1 for row in csv.reader(self._open()) if row) - 1, 0)
        return sum(1 for line in self._open() if line.strip())

    def documents(self) -> Iterator[tuple[int, DocumentIn]]:
        """(line number, document); a bad record raises SourceError naming its line."""
        lines = self._open()
        try:
            if self.csv:
                yield from documents_from_csv(lines, self.fields)
            else:
                yield from documents_from_lines(lines, self.fields)
        except BadLine as exc:
            raise SourceError(f"{self.path}:{exc.number}: {exc.problem}{self._hint(exc)}") from None
        finally:
            lines.close()

    def locate(self, refusal: str) -> str:
        """``refusal`` (the service's message, naming a document by its
        ``repr`` id) prefixed with the file and the lines holding that id;
        read again only on this error path, so a run keeps no id-to-line map."""
        lines = [str(n) for n, doc in self.documents() if repr(doc.id) in refusal]
        return f"{self.path}:{','.join(lines) + ':' if lines else ''} {refusal}"

    def _hint(self, exc: BadLine) -> str:
        if not exc.problem.endswith(EXTRA_FIELD) or self.fields.keep:
            return ""
        field = exc.problem.partition(":")[0]
        return f" (keep it as metadata with --metadata-field {field}, or keep all with --all-metadata)"
