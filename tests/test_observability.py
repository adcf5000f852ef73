"""The timing middleware's timeout, against ASGI apps that stall at chosen points."""

from __future__ import annotations

import asyncio
import json

from starlette.types import Message, Receive, Scope, Send

from app.api.observability import Observe

SCOPE: Scope = {"type": "http", "method": "GET", "path": "/slow", "headers": []}


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def run(app: object) -> list[Message]:
    """The messages ``Observe`` sends for ``app``, with a timeout that has
    expired by the app's first suspension (no wall-clock wait)."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(Observe(app, timeout=1e-9)(dict(SCOPE), receive, send))  # type: ignore[arg-type]
    return sent


def test_timeout_before_any_response_answers_504() -> None:
    async def stalls(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.Event().wait()

    sent = run(stalls)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 504
    assert "longer than" in json.loads(sent[1]["body"])["detail"]


def test_timeout_after_a_started_500_sends_no_second_response() -> None:
    async def fails_slowly(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await asyncio.Event().wait()  # the body never comes

    sent = run(fails_slowly)
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert sent[0]["status"] == 500
