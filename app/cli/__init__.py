"""Command line: a thin layer over the service and uvicorn.

Exit codes: 0 success (for ``check``: no duplicates), 1 duplicates found,
2 error (bad input, unreadable file, store unavailable).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.settings import Settings
from app.text import Format

if TYPE_CHECKING:
    # Imported where used: ``serve`` needs neither, and imports before its
    # first answer (forked workers inherit them, app/cli/prefork.py).
    from rich.console import Console
    from rich.progress import Progress

EXIT_OK, EXIT_DUPLICATES, EXIT_ERROR = 0, 1, 2


class CliError(Exception):
    pass


def _serve(args: argparse.Namespace) -> int:
    # No cyclic collection while the app's imports and kernels load (~13% of
    # the start-up's CPU, measured): the objects they make live for ever. It
    # is turned back on here once they are loaded (the lifespan then freezes
    # them out of later collections), or by the pre-fork master and workers.
    gc.disable()
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    if args.store:
        os.environ["PARADUP_STORE"] = args.store  # read by every worker's Settings()
    settings = Settings()
    workers = args.workers or settings.workers
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers write their metrics here so that /metrics adds them up. Set
        # before the app is imported: prometheus_client reads it then.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="paradup-metrics-")
    options = {
        "host": args.host or settings.host,
        "port": args.port if args.port is not None else settings.port,
        "log_level": args.log_level,
        # Header timeout, connection limit, JSON parser errors (app/api/server.py).
        "http": "app.api.server:Protocol",
        "timeout_keep_alive": settings.keep_alive_timeout,
        # The app logs every request itself, without the query string (which
        # may carry a key): uvicorn's access log would print it in clear.
        "access_log": False,
    }
    config = uvicorn.Config("app.api.factory:create_app", factory=True, **options)
    if workers > 1:
        # Forked from a master that loads the app once.
        from app.cli import prefork

        return prefork.serve(config, workers, settings)
    config.load()  # the app's imports, the collector still off
    gc.enable()
    server = uvicorn.Server(config)
    server.run()
    # As uvicorn.run: a lifespan that failed (the store cannot be opened) is
    # exit code 3, which supervisors tell from a clean stop.
    return EXIT_OK if server.started else STARTUP_FAILURE


def _progress(console: Console, quiet: bool) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=quiet,
    )  # fmt: skip


def _ingest(args: argparse.Namespace, console: Console) -> int:
    from app.cli.sources import Source, SourceError

    source = Source(args)
    progress = _progress(console, args.quiet)
    if args.url:
        from app.cli.remote import Remote, ingest_remote

        remote = Remote(args.url, _key(args))
        try:
            with progress:
                task = progress.add_task("sending", total=source.count())
                counts, paragraphs = ingest_remote(
                    remote,
                    source.documents(),
                    str(source.path),
                    lambda done, stage: progress.update(task, advance=done, description=stage),
                )
        finally:
            remote.close()
    else:
        from app.engine import DocumentInput, InvalidDocument, Service
        from app.engine.bulk import PROCESS_MIN_BYTES, ingest_file, ingest_stream
        from app.engine.bulk_files import NotUtf8
        from app.engine.records import BadLine

        service = Service.open(_settings(args))
        large = source.path.stat().st_size >= PROCESS_MIN_BYTES
        try:
            with progress:
                # Counting reads the whole file (a second a million paragraphs):
                # only for a progress bar that shows it.
                task = progress.add_task("hashing", total=None if args.quiet else source.count())

                def advance(done: int, stage: str) -> None:
                    progress.update(task, advance=done, description=stage)

                if large and not source.csv:
                    # JSON lines: the preparing processes read the file themselves.
                    counts, paragraphs = ingest_file(
                        service, str(source.path), source.fields, source.blocks(), advance
                    )
                else:
                    counts, paragraphs = ingest_stream(
                        service,
                        (DocumentInput(d.id, d.text, d.format, d.metadata) for _, d in source.documents()),
                        advance,
                        process=large,
                    )
        except InvalidDocument as exc:
            raise CliError(source.locate(str(exc))) from None
        except BadLine as exc:
            raise source.bad_line(exc) from None
        except NotUtf8 as exc:
            raise SourceError(f"{source.path}: {exc}") from None
        finally:
            service.close()
    total = sum(counts.values())
    console.print(
        f"{total} documents ({counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged), {paragraphs} paragraphs"
    )
    return EXIT_OK


def _check(args: argparse.Namespace, console: Console) -> int:
    if args.file == "-":
        text = sys.stdin.read()
    else:
        path = Path(args.file)
        if not path.is_file():
            raise CliError(f"{path}: no such file")
        text = path.read_text(encoding="utf-8")
    is_html = args.format == "html" or (args.format is None and args.file.lower().endswith((".html", ".htm")))
    fmt: Format = "html" if is_html else "text"
    exclude = args.exclude_id or []
    if args.url:
        from app.cli.remote import Remote

        remote = Remote(args.url, _key(args))
        try:
            response = remote.check(text, fmt, args.threshold, exclude)
        finally:
            remote.close()
    else:
        from app.engine import Service
        from app.engine.check_report import check_response

        service = Service.open(_settings(args))
        try:
            response = check_response(service.check(text, fmt, args.threshold, None, exclude))
        finally:
            service.close()
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


def _verify(args: argparse.Namespace, console: Console) -> int:
    from app.engine.earlier_schemes import schemes_for
    from app.engine.fingerprint import fingerprinter
    from app.store import verify_store

    settings = _settings(args)
    # A store the service opens with these settings is sound here too (one
    # made with the defaults of its time included).
    schemes = schemes_for(settings, fingerprinter(settings))
    problems = verify_store(settings.store, schemes[0], schemes[1:])
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{settings.store}: ok")
    return EXIT_ERROR if problems else EXIT_OK


def _migrate(args: argparse.Namespace, console: Console) -> int:
    from app.engine.earlier_schemes import fingerprinter_of
    from app.engine.fingerprint import fingerprinter
    from app.store.redis_migrate import migrate, one_slot_scheme

    # The fingerprints the source was built with, of those these settings
    # accept (the defaults of its time when no band setting is given).
    settings = Settings()
    fp = fingerprinter_of(settings, fingerprinter(settings), one_slot_scheme(args.source))
    done = migrate(args.source, args.target, fp.band_keys, fp.scheme)
    print(json.dumps({"documents": done.documents, "paragraphs": done.paragraphs, "to": args.target}))
    return EXIT_OK


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(store=args.store) if args.store else Settings()


def _key(args: argparse.Namespace) -> str | None:
    key: str | None = args.key or os.environ.get("PARADUP_KEY") or None
    return key


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="paradup",
        description="Near-duplicate paragraph detection. The index is chosen by PARADUP_STORE "
        "(default: sqlite:///data/paradup.db) or --store; check and ingest can also use a running "
        "service (--url).",
    )
    sub = top.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, remote: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        where = p.add_mutually_exclusive_group() if remote else p
        where.add_argument("--store", help="index location, overrides PARADUP_STORE")
        if remote:
            where.add_argument("--url", help="a running paradup service (http://host:port), not a store")
            p.add_argument("--key", help="API key for --url (default: the PARADUP_KEY variable)")
        return p

    serve = command("serve", "Run the HTTP API.")
    serve.add_argument("--host", help="interface to bind (default 127.0.0.1, PARADUP_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8000, PARADUP_PORT)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1, PARADUP_WORKERS)")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )

    ingest = command(
        "ingest",
        "Add documents from a JSON-lines file (one {id, text, format?, metadata?} per line) or a CSV file.",
        remote=True,
    )
    ingest.add_argument("file", help="JSON-lines file, or CSV (--csv or a .csv name) with a header row")
    ingest.add_argument("--csv", action="store_true", help="read CSV whatever the file name")
    ingest.add_argument("--id-field", default="id", metavar="NAME", help="field holding the id (default id)")
    ingest.add_argument(
        "--text-field", default="text", metavar="NAME", help="field holding the text (default text)"
    )
    ingest.add_argument(
        "--format", choices=["text", "html"], help="format of every document (default: a format field)"
    )
    ingest.add_argument(
        "--metadata-field", action="append", metavar="NAME",
        help="keep this field as metadata (repeatable); other fields are left out",
    )  # fmt: skip
    ingest.add_argument("--all-metadata", action="store_true", help="keep every other field as metadata")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")

    check = command("check", "Report duplicate paragraphs of an article (exit 1 when any).", remote=True)
    check.add_argument("file", help="article file (plain text or .html), or - for standard input")
    check.add_argument("--format", choices=["text", "html"], help="default: from the file extension")
    check.add_argument("--threshold", type=float, help="similarity threshold (0-1]")
    check.add_argument("--exclude-id", action="append", help="ignore this archived document (repeatable)")
    check.add_argument("--json", action="store_true", help="print the /check JSON response")

    command("stats", "Print the number of documents and paragraphs in the index as JSON.")
    command("verify", "Check the index for damage (exit 0 sound, 2 with the problems listed).")
    migrate = sub.add_parser(
        "migrate",
        help="Copy a Redis namespace of the one-slot layout into a new sharded namespace.",
        description="Copy a Redis namespace of the one-slot layout into a new sharded namespace.",
    )
    migrate.add_argument("--from", dest="source", required=True, metavar="URL", help="the one-slot namespace")
    migrate.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="the new namespace (with create=1)"
    )
    return top


def _reported(exc: Exception) -> bool:
    """An error reported in one line (exit 2) rather than a traceback. The
    modules defining the others are imported by the commands raising them,
    so an error of a module not imported cannot have been raised."""
    if isinstance(exc, CliError | ValueError | OSError):
        return True
    kinds = (
        ("app.cli.remote", "RemoteError"),
        ("app.cli.sources", "SourceError"),
        ("app.store", "StoreError"),
    )
    return any(
        (module := sys.modules.get(name)) is not None and isinstance(exc, getattr(module, kind))
        for name, kind in kinds
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    err: Console | None = None
    try:
        if getattr(args, "key", None) and not args.url:
            raise CliError("--key goes with --url")
        if args.command == "serve":
            return _serve(args)
        from rich.console import Console

        err = Console(stderr=True, soft_wrap=True)
        # ingest reports on stderr: its errors and its progress bar share one
        # console, so an error starts on a line of its own.
        console = err if args.command == "ingest" else Console()
        handler = {
            "ingest": _ingest,
            "check": _check,
            "stats": _stats,
            "verify": _verify,
            "migrate": _migrate,
        }[args.command]
        return handler(args, console)
    except Exception as exc:  # store unavailable and the like: still exit 2, never a traceback
        if not _reported(exc):
            raise
        if err is None:
            from rich.console import Console

            err = Console(stderr=True, soft_wrap=True)
        err.print(f"[red]error:[/red] {exc}", highlight=False)
    return EXIT_ERROR
