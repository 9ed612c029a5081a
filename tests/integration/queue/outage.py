"""A way to PostgreSQL the tests can cut: a TCP proxy in the test's process, through which
a deployment reaches its database. ``cut`` closes every connection through it and refuses
new ones (what a database that died, or a network partition, looks like to the processes);
``mend`` lets them through again. The machine's PostgreSQL is shared, so a test must not
stop it. The link runs on an event loop of its own, in a thread: a test's own loop may be
blocked (a ``subprocess.run``) while the processes talk to their database."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class CuttableLink:
    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._parts = parts
        self._server: asyncio.Server | None = None
        self._port = 0
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.cut_ = False

    @property
    def url(self) -> str:
        """The database's URL through the link."""
        netloc = self._parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self._port}"
        netloc[-1] = host
        return urlunsplit(self._parts._replace(netloc="@".join(netloc)))

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._open())

    def cut(self) -> None:
        """Close every connection through the link, and refuse new ones."""
        self._call(self._cut())

    def mend(self) -> None:
        """Let connections through again (on the same port)."""
        self._call(self._mend())

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        self.cut_ = True
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _mend(self) -> None:
        self.cut_ = False
        await self._open()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, upstream_writer)),
            asyncio.create_task(self._pipe(upstream_reader, writer)),
        ]
        self._pipes.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)
        self._pipes.difference_update(pipes)
        for each in (writer, upstream_writer):
            self._writers.discard(each)
            each.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
