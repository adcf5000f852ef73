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
# Bytes of the file per block a preparing process reads (see ``blocks``):
# ~2,000 documents of news, one hashing call.
BLOCK_BYTES = 4 << 20


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

    def blocks(self, size: int = BLOCK_BYTES) -> Iterator[tuple[int, int, int]]:
        """(start, end, number of its first line) of consecutive byte ranges
        of the file, each of about ``size`` bytes and ending with a line
        break (the last, at the end of the file), so that preparing
        processes read and parse their own lines. Lines are counted as
        ``documents`` counts them: a ``\r\n``, ``\r`` or ``\n`` ends one."""
        with self.path.open("rb") as f:
            start, line, rest = 0, 1, b""
            while data := f.read(size):
                chunk = rest + data
                cut = chunk.rfind(b"\n") + 1
                if not cut:  # one line longer than ``size``: read on
                    rest = chunk
                    continue
                piece, rest = chunk[:cut], chunk[cut:]
                yield start, start + cut, line
                line += piece.count(b"\n") + piece.count(b"\r") - piece.count(b"\r\n")
                start += cut
            if rest:
                yield start, start + len(rest), line

    def bad_line(self, exc: BadLine) -> SourceError:
        return SourceError(f"{self.path}:{exc.number}: {exc.problem}{self._hint(exc)}")

    def documents(self) -> Iterator[tuple[int, DocumentIn]]:
        """(line number, document); a bad record raises SourceError naming its line."""
        lines = self._open()
        try:
            if self.csv:
                yield from documents_from_csv(lines, self.fields)
            else:
                yield from documents_from_lines(lines, self.fields)
        except BadLine as exc:
            raise self.bad_line(exc) from None
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
