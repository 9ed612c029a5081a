"""Server-Sent Events: one response that sends events, and keep-alive comments when quiet.

A client going away is normal (a closed tab, a dropped connection): it is never logged as
an error, and the events' generator is closed, its cleanup awaited (a bus subscription
removed, say), before the response returns.

Rejected: FastAPI's own ``EventSourceResponse`` path (a producer task and a keep-alive task
joined by memory streams). When the client goes, the request's exit stack closes the
stream the keep-alive task writes into before it cancels that task, so a disconnect during
keep-alive is now and then logged as an ``ERROR`` with an ``anyio.BrokenResourceError``
traceback, and the generator can be left for garbage collection to close. sse-starlette:
its ping task sends on its own, it patches uvicorn's exit handler for the whole process
and ends every stream on shutdown, while ``tav serve`` lets them follow the executions it
drains. Here the request's own task does all the sending; only waiting for the next event
runs in a task of its own, so that a keep-alive deadline never cancels (and so ends) the
generator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from fastapi.sse import KEEPALIVE_COMMENT, ServerSentEvent, format_sse_event
from pydantic_core import to_json
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

KEEPALIVE_S = 15.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering


class EventStream(Response):
    """``text/event-stream`` of ``events``, with a comment after every ``keepalive_s`` of
    quiet so that proxies and browsers keep the connection open."""

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncGenerator[ServerSentEvent, None],
        *,
        keepalive_s: float = KEEPALIVE_S,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers({**HEADERS, **(headers or {})})  # no body: no Content-Length
        self.events = events
        self.keepalive_s = keepalive_s
        self._next: asyncio.Task[ServerSentEvent] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.create_task(_disconnected(receive))
        try:
            await send(_start(self.status_code, self.raw_headers))
            if await self._send_events(send, gone):
                await send(_body(b"", more=False))
        except OSError:  # how ASGI 2.4 servers report a client that has gone
            pass
        finally:
            gone.cancel()
            await self._close()
            await asyncio.wait({gone})
            _reraise(gone)

    async def _send_events(self, send: Send, gone: asyncio.Task[None]) -> bool:
        """Until the events end (True) or the client goes (False)."""
        while True:
            if self._next is None:
                self._next = asyncio.create_task(_next(self.events))
            done, _ = await asyncio.wait(
                {self._next, gone}, timeout=self.keepalive_s, return_when=asyncio.FIRST_COMPLETED
            )
            if gone in done:
                return False
            if self._next not in done:
                await send(_body(KEEPALIVE_COMMENT))
                continue
            arrived, self._next = self._next, None
            try:
                event = arrived.result()
            except StopAsyncIteration:
                return True
            await send(_body(encode(event)))

    async def _close(self) -> None:
        """Stop the events' generator and wait for its cleanup: cancelled where it waits,
        or closed where it yielded."""
        if self._next is not None:
            self._next.cancel()
            await asyncio.wait({self._next})
            _reraise(self._next)
        await self.events.aclose()


def encode(event: ServerSentEvent) -> bytes:
    data = event.raw_data
    if data is None and event.data is not None:
        data = to_json(event.data).decode()
    return format_sse_event(
        data_str=data, event=event.event, id=event.id, retry=event.retry, comment=event.comment
    )


async def _next(events: AsyncGenerator[ServerSentEvent, None]) -> ServerSentEvent:
    return await anext(events)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _start(status: int, headers: list[tuple[bytes, bytes]]) -> Message:
    return {"type": "http.response.start", "status": status, "headers": headers}


def _body(chunk: bytes, *, more: bool = True) -> Message:
    return {"type": "http.response.body", "body": chunk, "more_body": more}


def _reraise(task: asyncio.Task[Any]) -> None:
    """An error a task raised while it was being stopped is a real one."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None and not isinstance(error, StopAsyncIteration):
        raise error
