"""Live co-editing clients for tests: the server under real uvicorn (WebSockets need one),
and Python clients that join a room as the editor does, with pycrdt's ``Provider`` over
the ``websockets`` library."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import websockets
from pycrdt import Doc, Map, Provider, Text
from websockets.asyncio.client import ClientConnection

from tav.collab.protocol import MessageType


class Channel:
    """A ``websockets`` connection as pycrdt's ``Channel``: sync messages go to the
    provider; the others (awareness, auth) are kept in ``others`` for the test to read."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.others: list[bytes] = []

    @property
    def path(self) -> str:
        return str(self.connection.request.path if self.connection.request else "")

    def __aiter__(self) -> Channel:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except websockets.ConnectionClosed:
            raise StopAsyncIteration from None

    async def send(self, message: bytes) -> None:
        await self.connection.send(message)

    async def recv(self) -> bytes:
        while True:
            message = await self.connection.recv()
            assert isinstance(message, bytes)
            if message[0] == MessageType.SYNC:
                return message
            self.others.append(message)


class Client:
    """One person in a room: their replica of the draft and their connection."""

    def __init__(self, doc: Doc[Any], channel: Channel, provider: Provider) -> None:
        self.doc = doc
        self.channel = channel
        self.provider = provider

    @property
    def connection(self) -> ClientConnection:
        return self.channel.connection

    @property
    def nodes(self) -> Map[Any]:
        return self.doc.get("nodes", type=Map)

    @property
    def meta(self) -> Map[Any]:
        return self.doc.get("meta", type=Map)

    def text(self, node_id: str, param: str) -> Text:
        value = self.nodes[node_id]["params"][param]
        assert isinstance(value, Text)
        return value

    async def closed(self, within: float = 5) -> tuple[int | None, str | None]:
        """The close code and reason, once the server has closed the connection."""
        async with asyncio.timeout(within):
            await self.connection.wait_closed()
        return self.connection.close_code, self.connection.close_reason


def room_url(base: str, workflow_id: str) -> str:
    return f"{base.replace('http://', 'ws://')}/api/v1/workflows/{workflow_id}/collab"


@asynccontextmanager
async def joined(
    base: str,
    workflow_id: str,
    headers: dict[str, str],
    doc: Doc[Any] | None = None,
) -> AsyncIterator[Client]:
    """A client in the room of ``workflow_id``, synced (the draft has arrived); ``doc``:
    a replica it had before (a reconnection)."""
    doc = doc if doc is not None else Doc()
    async with websockets.connect(room_url(base, workflow_id), additional_headers=headers) as ws:
        channel = Channel(ws)
        async with Provider(doc, channel) as provider:
            async with asyncio.timeout(10):
                await provider.synced.wait()
            yield Client(doc, channel, provider)


async def eventually(check: Callable[[], Any], within: float = 5) -> Any:
    """Wait until ``check()`` is truthy (it may raise meanwhile); return what it gave."""
    deadline = time.monotonic() + within
    while True:
        try:
            result = check()
            if result:
                return result
        except (KeyError, AssertionError, TypeError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s: {check}")
        await asyncio.sleep(0.01)
