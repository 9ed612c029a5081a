"""A slow HTTP server on 127.0.0.1 (uvicorn, in the test's event loop) that counts how many
requests it holds at once: for fan-out tests (``core.map``, the list form of
``core.http_request``).

Every request is answered after ``delay_s`` with ``{"path": ..., "query": ...}`` as JSON;
a path that starts with ``/status/<code>`` is answered with that status instead of 200.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class SlowHttp:
    """The ASGI app; ``url`` is set while ``serving`` it."""

    def __init__(self, delay_s: float = 0.1) -> None:
        self.delay_s = delay_s
        self.url = ""
        self.held = 0
        self.most_held = 0
        self.paths: list[str] = []
        self.clients: set[tuple[str, int]] = set()
        """The client addresses seen: one per connection the server was sent requests on."""

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        self.held += 1
        self.most_held = max(self.most_held, self.held)
        self.paths.append(scope["path"])
        self.clients.add(tuple(scope["client"]))
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.held -= 1
        status = 200
        if scope["path"].startswith("/status/"):
            status = int(scope["path"].split("/")[2])
        body = json.dumps({"path": scope["path"], "query": scope["query_string"].decode()}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serving(app: SlowHttp) -> AsyncIterator[SlowHttp]:
    """Serve ``app`` on a free port of 127.0.0.1 until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    app.url = f"http://127.0.0.1:{port}"
    try:
        yield app
    finally:
        server.should_exit = True
        await task
