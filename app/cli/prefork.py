"""``paradup serve --workers N`` (N > 1): a master that imports the app and
loads its compiled kernels once, binds the socket, then forks the workers.

uvicorn's own supervisor spawns fresh interpreters: each imports FastAPI and
numba again and loads every kernel from numba's cache again, about 1 s of
CPU per worker before it can answer. Forked workers inherit the master's
modules, app and machine code (shared, copy on write), so each only runs
the app's lifespan (which opens the store) and serves.

What must never cross the fork is opened after it, in each worker: the
store (SQLite connections, memory maps, the compaction thread) by the app's
lifespan, and the event loop by the worker's own uvicorn Server. The master
opens neither and starts no thread; it only supervises: SIGTERM or SIGINT
stops every worker gracefully (a second one kills them), SIGHUP replaces
every worker, a worker that dies is replaced, and a worker that fails its
start-up (uvicorn's exit code 3: the store cannot be opened, say) stops the
service with that code, as a replacement would fail the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import logging
import os
import signal
import socket
import sys
import traceback
from typing import NoReturn

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from app.engine.warm import warm_kernels
from app.settings import Settings
from app.store import import_backend

logger = logging.getLogger("uvicorn.error")

STOP = {signal.SIGTERM, signal.SIGINT}
WATCHED = STOP | {signal.SIGCHLD, signal.SIGHUP}
# Modules each worker would otherwise import on its way to the first answer,
# none of which opens anything at import: anyio's asyncio backend (the first
# CapacityLimiter and thread hop) and the thread pool asyncio's executor uses.
# One missing (another anyio version) is only imported later, as before.
LATE_IMPORTS = ("anyio._backends._asyncio", "concurrent.futures.thread")
# How often the master reaps without being woken (a SIGCHLD merged with
# another is never lost this way).
POLL_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
Mask = set[int | signal.Signals]  # what pthread_sigmask returns


def serve(config: uvicorn.Config, workers: int, settings: Settings) -> int:
    """Serve ``config`` with ``workers`` forked worker processes; the exit code."""
    sock = config.bind_socket()  # first: a port in use fails at once
    # uvicorn's loader imports the app (named by its import string, as with
    # one worker) and the protocol class, and builds the app: no store, no
    # event loop, no thread, so the workers inherit it whole. Each worker's
    # Server then runs the app's lifespan, which opens the store there.
    config.load()
    prepare(config, settings)
    warm_kernels(settings)
    # Everything the imports made is left out of later collections: a
    # worker's collections then never write to (and so copy) the pages it
    # shares with the master. The collector, off since the start (app/cli),
    # is turned on again in the master and in each worker once forked.
    gc.freeze()
    return Supervisor(config, sock, workers).run()


def prepare(config: uvicorn.Config, settings: Settings) -> None:
    """Before the fork, what every worker did after it before its first
    answer: import the store's backend module (its lifespan then only opens
    the store), the event loop's module and the modules of ``LATE_IMPORTS``.
    Imports only: no store, loop, thread or socket is made."""
    import_backend(settings.store)
    # Imports uvloop (or asyncio's loop) and returns the factory uvicorn calls
    # in each worker; no loop exists until then.
    config.get_loop_factory()
    for name in LATE_IMPORTS:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


class Supervisor:
    def __init__(self, config: uvicorn.Config, sock: socket.socket, workers: int) -> None:
        self.config = config
        self.sock = sock
        self.size = workers
        self.workers: set[int] = set()
        # Told to stop by a SIGHUP, their replacements already started.
        self.retiring: set[int] = set()
        self.stopping = False
        self.exit_code = 0

    def run(self) -> int:
        logger.info("Started parent process [%d]", os.getpid())
        # Signals are taken synchronously (sigtimedwait), never by a handler
        # that could run in the middle of a fork or a reap.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
        try:
            for _ in range(self.size):
                self._spawn(mask)
            gc.enable()
            while self.workers:
                received = signal.sigtimedwait(WATCHED, POLL_SECONDS)
                if received is not None and received.si_signo in STOP:
                    self._stop()
                elif received is not None and received.si_signo == signal.SIGHUP and not self.stopping:
                    self._replace_all(mask)
                self._reap(mask)
        finally:
            for pid in self.workers:  # only if the master itself failed
                _signal(pid, signal.SIGKILL)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            self.sock.close()
        logger.info("Stopping parent process [%d]", os.getpid())
        return self.exit_code

    def _spawn(self, mask: Mask) -> None:
        master = os.getpid()
        pid = os.fork()
        if pid == 0:
            _worker(self.config, self.sock, mask, master)
        self.workers.add(pid)

    def _replace_all(self, mask: Mask) -> None:
        """SIGHUP: new workers (new app state, new store connections), then
        the old ones stop gracefully, finishing their requests meanwhile. The
        code is not imported again: a new version needs a new service."""
        old = self.workers - self.retiring
        logger.info("Replacing workers %s", sorted(old))
        for pid in old:
            self._spawn(mask)
            _signal(pid, signal.SIGTERM)
        self.retiring |= old

    def _stop(self) -> None:
        # A second signal while the workers finish their requests: kill them.
        how = signal.SIGKILL if self.stopping else signal.SIGTERM
        self.stopping = True
        for pid in self.workers:
            _signal(pid, how)

    def _reap(self, mask: Mask) -> None:
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if pid == 0:
                return
            if pid not in self.workers:
                continue
            self.workers.discard(pid)
            code = os.waitstatus_to_exitcode(status)
            _forget_metrics(pid)
            if self.stopping or pid in self.retiring:
                self.retiring.discard(pid)
                continue
            if code == STARTUP_FAILURE:
                logger.error("Worker process [%d] failed to start: stopping the service", pid)
                self.exit_code = STARTUP_FAILURE
                self._stop()
                continue
            logger.warning("Worker process [%d] died (exit code %d): starting another", pid, code)
            self._spawn(mask)


def _worker(config: uvicorn.Config, sock: socket.socket, mask: Mask, master: int) -> NoReturn:
    """A forked worker: its own uvicorn Server (and so its own app, lifespan
    and store) on the inherited socket. Never returns into the master's code."""
    code = 1
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _die_with(master)
        gc.enable()
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        code = 0 if server.started else STARTUP_FAILURE
    except SystemExit as exc:  # uvicorn exits with STARTUP_FAILURE when the lifespan fails
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Not sys.exit: the master's atexit handlers and open files are not the worker's to run.
        os._exit(code)


def _die_with(master: int) -> None:
    """SIGTERM this worker when the master dies, however it dies (a SIGKILL
    leaves no orphan serving a port nobody supervises)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != master:  # it died before that took effect
        os._exit(1)


def _signal(pid: int, how: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # exited meanwhile: the next reap collects it
        os.kill(pid, how)


def _forget_metrics(pid: int) -> None:
    """The live gauges of a dead worker leave /metrics' sums."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
