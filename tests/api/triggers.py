"""Workflows with triggers, and a real HTTP server for webhook tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from tav.api.app import create_app
from tav.app.server import Server
from tests.helpers import document, node


def webhook_flow(path: str = "orders", name: str = "orders", **params: Any) -> dict[str, Any]:
    """webhook -> set {got: body} -> output."""
    return document(
        node("hook", "trigger.webhook", params={"path": path, **params}),
        node("shape", "core.set", params={"values": {"got": "{{ trigger.body }}"}}),
        node("result", "core.output"),
        links=("hook -> shape", "shape -> result"),
        name=name,
    )


def manual_flow(name: str = "by hand") -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("result", "core.output"),
        name=name,
        links=("start -> result",),
    )


@asynccontextmanager
async def http_server(server: Server) -> AsyncIterator[str]:
    """The app of ``server`` under uvicorn on a free port of 127.0.0.1, in this event loop;
    yields its base URL. The server is started and stopped by its own fixture."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(server.settings, server=server),
        lifespan="off",
        log_level="warning",
        access_log=False,
        ws="websockets-sansio",  # as tav serve does (live co-editing)
        ws_max_size=server.settings.collab_max_message_bytes + 1024,
        timeout_graceful_shutdown=1,
    )
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while True:
                if served.started:
                    break
                await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        served.should_exit = True
        await task
        sock.close()
