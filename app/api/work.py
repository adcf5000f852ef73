"""Running checks and ingests off the event loop, with a deadline.

The work runs in a thread of its own pool (so ``/ready`` and ``/metrics``,
which use the default pool, never queue behind it) and is given the request
timeout as a ``Deadline``: once the 504 has gone out, the engine stops at its
next checkpoint instead of finishing a result nobody will read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Request

from app.api.observability import WORK_IN_FLIGHT, WORK_STOPPED
from app.engine.cancel import Cancelled, Deadline

Result = TypeVar("Result")
log = logging.getLogger("paradup.work")


def work_limiter(threads: int) -> CapacityLimiter:
    return CapacityLimiter(threads)


async def run_work(request: Request, func: Callable[..., Result], *args: Any) -> Result:
    """``func(*args, deadline=...)`` in a worker thread."""
    deadline = Deadline(request.app.state.settings.request_timeout)

    def work() -> Result:
        WORK_IN_FLIGHT.inc()
        try:
            return func(*args, deadline=deadline)
        except Cancelled as exc:
            WORK_STOPPED.labels(exc.stage).inc()
            log.warning("work stopped past its deadline", extra={"fields": {"stage": exc.stage}})
            raise
        finally:
            WORK_IN_FLIGHT.dec()

    try:
        return await anyio.to_thread.run_sync(work, limiter=request.app.state.work_limiter)
    finally:
        # Cancelled while waiting for a thread: the work must not start later.
        deadline.cancel()
