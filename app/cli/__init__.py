"""Command line: a thin layer over the service and uvicorn.

Exit codes: 0 success (for ``check``: no duplicates), 1 duplicates found,
2 error (bad input, unreadable file, store unavailable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.settings import Settings
from app.text import Format

EXIT_OK, EXIT_DUPLICATES, EXIT_ERROR = 0, 1, 2


class CliError(Exception):
    pass


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.store:
        os.environ["PARADUP_STORE"] = args.store  # read by every worker's Settings()
    settings = Settings()
    workers = args.workers or settings.workers
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers write their metrics here so that /metrics adds them up.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="paradup-metrics-")
    uvicorn.run(
        "app.api.factory:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        workers=workers,
        log_level=args.log_level,
    )
    return EXIT_OK


def _documents(path: Path) -> Iterator[tuple[int, Any]]:
    from app.api.schemas import BadLine, documents_from_lines

    with path.open(encoding="utf-8") as lines:
        try:
            yield from documents_from_lines(lines)
        except BadLine as exc:
            raise CliError(f"{path}:{exc.number}: {exc.problem}") from None


def _ingest(args: argparse.Namespace, console: Console) -> int:
    from app.engine import DocumentInput, Service
    from app.engine.bulk import ingest_stream

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    service = Service.open(_settings(args))
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=args.quiet,
    )  # fmt: skip
    try:
        with progress:
            total = sum(1 for line in path.open("rb") if line.strip())
            task = progress.add_task("hashing", total=total)
            counts, paragraphs = ingest_stream(
                service,
                (DocumentInput(doc.id, doc.text, doc.format, doc.metadata) for _, doc in _documents(path)),
                lambda done, stage: progress.update(task, advance=done, description=stage),
            )
    finally:
        service.close()
    total = sum(counts.values())
    console.print(
        f"{total} documents ({counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged), {paragraphs} paragraphs"
    )
    return EXIT_OK


def _check(args: argparse.Namespace, console: Console) -> int:
    from app.api.schemas import check_response
    from app.engine import Service

    if args.file == "-":
        text = sys.stdin.read()
    else:
        path = Path(args.file)
        if not path.is_file():
            raise CliError(f"{path}: no such file")
        text = path.read_text(encoding="utf-8")
    is_html = args.format == "html" or (args.format is None and args.file.lower().endswith((".html", ".htm")))
    fmt: Format = "html" if is_html else "text"
    service = Service.open(_settings(args))
    try:
        results = service.check(text, fmt, args.threshold, None, args.exclude_id or [])
    finally:
        service.close()
    response = check_response(results)
    if args.json:
        print(response.model_dump_json(indent=2))
    else:
        from app.cli.report import print_report

        print_report(response, console)
    return EXIT_DUPLICATES if response.duplicate else EXIT_OK


def _stats(args: argparse.Namespace, console: Console) -> int:
    from app.engine import Service

    service = Service.open(_settings(args))
    try:
        stats = service.stats()
    finally:
        service.close()
    print(json.dumps({"documents": stats.documents, "paragraphs": stats.paragraphs, **stats.extra}))
    return EXIT_OK


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(store=args.store) if args.store else Settings()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="paradup",
        description="Near-duplicate paragraph detection. The index is chosen by PARADUP_STORE "
        "(default: sqlite:///data/paradup.db) or --store.",
    )
    sub = top.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--store", help="index location, overrides PARADUP_STORE")
        return p

    serve = command("serve", "Run the HTTP API.")
    serve.add_argument("--host", help="interface to bind (default 127.0.0.1, PARADUP_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8000, PARADUP_PORT)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1, PARADUP_WORKERS)")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )

    ingest = command(
        "ingest", "Add documents from a JSONL file: one {id, text, format?, metadata?} per line."
    )
    ingest.add_argument("file", help="JSONL file")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")

    check = command("check", "Report duplicate paragraphs of an article (exit 1 when any).")
    check.add_argument("file", help="article file (plain text or .html), or - for standard input")
    check.add_argument("--format", choices=["text", "html"], help="default: from the file extension")
    check.add_argument("--threshold", type=float, help="similarity threshold (0-1]")
    check.add_argument("--exclude-id", action="append", help="ignore this archived document (repeatable)")
    check.add_argument("--json", action="store_true", help="print the /check JSON response")

    command("stats", "Print the number of documents and paragraphs in the index as JSON.")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console(stderr=args.command == "ingest")
    err = Console(stderr=True, soft_wrap=True)
    try:
        if args.command == "serve":
            return _serve(args)
        handler = {"ingest": _ingest, "check": _check, "stats": _stats}[args.command]
        return handler(args, console)
    except CliError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
    except (ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
    except Exception as exc:  # store unavailable and the like: still exit 2, never a traceback
        from app.store import StoreError

        if not isinstance(exc, StoreError):
            raise
        err.print(f"[red]error:[/red] {exc}", highlight=False)
    return EXIT_ERROR
