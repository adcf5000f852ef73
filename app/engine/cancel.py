"""Stopping work that nobody waits for any more.

A request that passed its timeout has already been answered 504; the thread
still running its check must not keep a core busy. The engine calls
``Deadline.check`` between stages and inside its per-paragraph loops, so the
work ends at the next checkpoint (a few milliseconds at most) by raising
``Cancelled``.
"""

from __future__ import annotations

import time


class Cancelled(Exception):
    """The work was stopped at a checkpoint (its deadline passed or it was cancelled)."""

    def __init__(self, stage: str) -> None:
        super().__init__(f"stopped during {stage}")
        self.stage = stage


class Deadline:
    """A point in monotonic time after which work stops; ``None``: never."""

    def __init__(self, seconds: float | None = None) -> None:
        self._at = None if seconds is None else time.monotonic() + seconds
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    def check(self, stage: str) -> None:
        if self._cancelled or (self._at is not None and time.monotonic() >= self._at):
            raise Cancelled(stage)


NEVER = Deadline()
