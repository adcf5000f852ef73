"""Retrying a Redis call that a slot migration refused, for the Redis store.

While ``redis-cli --cluster reshard`` moves a slot, Redis refuses some calls
on it without running them, and redis-py follows only part of that:

- It follows ``MOVED`` and ``ASK`` (the slot, or the call's declared keys,
  are on the other node), and retries ``TRYAGAIN`` (a call whose declared
  keys are split between the two nodes), 16 redirections and retries in all
  over about 0.4 s, then raises ``ClusterError("TTL exhausted.")`` (or
  ``TryAgainError`` on a standalone client). A slot holding many keys takes
  longer than that to move.
- A script that touches a key it did not declare in KEYS, when that key has
  already left the node, is stopped by Redis with "Script attempted to
  access a non local key in a cluster node": a plain error that redis-py
  never retries, raised after whatever the script had already written.

``retrying`` repeats a call on those refusals with a growing pause until a
deadline. A refusal before the call ran (TRYAGAIN, CLUSTERDOWN, a
redirection left over) is retried for any call. The non-local-key stop is
retried for read-only calls only: a write may have been applied in part,
which no retry repairs (scripts that write must declare every key they
touch, so that Redis refuses them before they start instead).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import redis.exceptions as rex

T = TypeVar("T")

# A slot of a few thousand keys moves in a second or two on a busy machine.
DEADLINE = 10.0
FIRST_PAUSE = 0.02
LONGEST_PAUSE = 0.5
NON_LOCAL = "Script attempted to access a non local key"
# Refused before anything ran: TRYAGAIN, CLUSTERDOWN, a redirection redis-py gave up following.
TTL_EXHAUSTED = "TTL exhausted."  # redis-py's redirections and TRYAGAIN retries ran out
REFUSED = (rex.TryAgainError, rex.ClusterDownError, rex.AskError, rex.MovedError)


def retryable(exc: BaseException, read_only: bool) -> bool:
    if isinstance(exc, REFUSED) or (isinstance(exc, rex.ClusterError) and str(exc) == TTL_EXHAUSTED):
        return True
    return read_only and isinstance(exc, rex.ResponseError) and str(exc).startswith(NON_LOCAL)


def retrying(
    call: Callable[[], T],
    read_only: bool,
    deadline: float = DEADLINE,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """``call()``, repeated while a slot migration refuses it, until ``deadline``
    seconds have passed (then its last error). ``on_retry`` sees each refusal
    (a counter, a log line)."""
    end = time.monotonic() + deadline
    pause = FIRST_PAUSE
    while True:
        try:
            return call()
        except rex.RedisError as exc:
            if not retryable(exc, read_only) or time.monotonic() + pause > end:
                raise
            if on_retry is not None:
                on_retry(exc)
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)
