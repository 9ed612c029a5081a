"""The live execution stream (Server-Sent Events): replay, live, resume, many watchers —
in process on both databases, and against a real ``tav serve``."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tav.api.app import create_app
from tav.app.server import Server
from tav.engine.bus import InMemoryBus
from tav.settings import Settings
from tav.storage.db import Database
from tav.storage.watch import watch
from tav.storage.workflows import WorkflowRepository
from tests.api.helpers import chain, ended, run_to_end, start, stored, until
from tests.helpers import document, node

FINAL = {"execution.completed", "execution.failed", "execution.cancelled"}


@dataclass(frozen=True)
class Sse:
    id: int
    event: str
    data: dict[str, Any]


async def sse(response: httpx.Response) -> AsyncIterator[Sse]:
    """Parse ``text/event-stream``: ``field: value`` lines, a blank line ends an event."""
    fields: dict[str, list[str]] = {}
    async for line in response.aiter_lines():
        if not line:
            if "data" in fields:
                data = json.loads("\n".join(fields["data"]))
                yield Sse(int(fields["id"][-1]), fields["event"][-1], data)
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))


async def read_stream(client: httpx.AsyncClient, execution_id: str, **options: Any) -> list[Sse]:
    url = f"/api/v1/executions/{execution_id}/stream"
    async with client.stream("GET", url, **options) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [event async for event in sse(response)]


def seqs(events: list[Sse]) -> list[int]:
    return [event.id for event in events]


def check_well_formed(events: list[Sse], execution_id: str) -> None:
    """Numbered 1..n in order, one final event at the end, each event's id and type its own."""
    assert seqs(events) == list(range(1, len(events) + 1))
    assert events[0].event == "execution.started"
    assert events[-1].event in FINAL
    assert not any(event.event in FINAL for event in events[:-1])
    for event in events:
        assert event.data["seq"] == event.id
        assert event.data["type"] == event.event
        assert event.data["execution_id"] == execution_id
        if event.event.startswith("node."):
            assert event.data["node_id"]


# -- in process, on both databases ------------------------------------------------------


async def test_a_finished_execution_replays_every_event_and_ends(client, server):
    result = await run_to_end(client, await stored(server, chain(0, 0)))
    execution_id = result["execution_id"]
    events = await read_stream(client, execution_id)
    check_well_formed(events, execution_id)
    assert events[-1].event == "execution.completed"
    assert [e.data for e in events] == await server.parts.executions.events(execution_id)
    started = [e.data["node_id"] for e in events if e.event == "node.started"]
    assert started == ["start", "d1", "d2", "result"]


async def test_a_live_stream_gets_every_event_in_order_then_ends(client, server):
    doc = document(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 0.2}),
        node("tokens", "test.progress"),
        links=("start -> wait", "wait -> tokens"),
    )
    execution_id = await start(client, await stored(server, doc), input="abc")
    events = await read_stream(client, execution_id)
    check_well_formed(events, execution_id)
    progress = [e.data for e in events if e.event == "node.progress"]
    assert [p["data"]["token"] for p in progress] == ["a", "b", "c"]
    assert all(p["node_id"] == "tokens" for p in progress)
    await server.parts.writer.flush()
    assert [e.data for e in events] == await server.parts.executions.events(execution_id)


async def test_last_event_id_or_after_resumes_with_exactly_the_rest(client, server):
    result = await run_to_end(client, await stored(server, chain(0, 0)))
    execution_id = result["execution_id"]
    every = await read_stream(client, execution_id)
    count = len(every)
    for last in (0, 1, 4, count - 1, count):
        resumed = await read_stream(client, execution_id, headers={"Last-Event-ID": str(last)})
        assert resumed == every[last:]
        after = await read_stream(client, execution_id, params={"after": last})
        assert after == every[last:]
    both = await read_stream(
        client, execution_id, params={"after": 1}, headers={"Last-Event-ID": "3"}
    )
    assert both == every[3:]


async def test_a_watcher_resuming_mid_run_misses_nothing(client, server):
    execution_id = await start(client, await stored(server, chain(0.05, 0.5, 0.05)))
    await until(client, execution_id, lambda e: "d1" in e["nodes"])
    rest = await read_stream(client, execution_id, headers={"Last-Event-ID": "3"})
    every = await read_stream(client, execution_id)
    check_well_formed(every, execution_id)
    assert rest == every[3:]


async def test_any_number_of_watchers_see_the_same_events(client, server):
    execution_id = await start(client, await stored(server, chain(0.1, 0.1)))
    streams = await asyncio.gather(*(read_stream(client, execution_id) for _ in range(5)))
    check_well_formed(streams[0], execution_id)
    assert all(events == streams[0] for events in streams)


async def test_the_stream_ends_with_the_cancellation(client, server):
    execution_id = await start(client, await stored(server, chain(60)))
    watching = asyncio.create_task(read_stream(client, execution_id))
    await until(client, execution_id, lambda e: e["status"] == "running")
    await client.post(f"/api/v1/executions/{execution_id}/cancel")
    events = await asyncio.wait_for(watching, 10)
    check_well_formed(events, execution_id)
    assert events[-1].event == "execution.cancelled"
    assert events[-2].event == "node.cancelled"


async def test_a_watcher_follows_an_execution_its_bus_never_sees(client, server):
    """As for ``tav run`` in another process: the store alone carries the events."""
    execution_id = await start(client, await stored(server, chain(0.1, 0.1)))
    events = [
        e async for e in watch(server.parts.executions, InMemoryBus(), execution_id, poll_s=0.02)
    ]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "execution.completed"
    assert events == await server.parts.executions.events(execution_id)
    late = [e async for e in watch(server.parts.executions, InMemoryBus(), execution_id, after=2)]
    assert late == events[2:]


async def test_the_stream_of_a_failed_execution_ends_with_the_failure(client, server):
    doc = document(node("start", "trigger.manual"), node("boom", "test.raise"))
    result = await run_to_end(client, await stored(server, doc))
    events = await read_stream(client, result["execution_id"])
    check_well_formed(events, result["execution_id"])
    assert events[-1].event == "execution.failed"
    failed = next(e for e in events if e.event == "node.failed")
    assert failed.data["error"]["message"] == "RuntimeError: boom"


# -- a real server ----------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    url: str
    key: str
    data_dir: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``tav serve`` on a free port over a fresh data dir, with an API key; always killed."""
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
    env["TAV_DATA_DIR"] = str(data_dir)
    tav = [sys.executable, "-m", "tav"]
    created = subprocess.run(
        [*tav, "api-keys", "create", "--name", "t", "--init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*tav, "serve", "--port", str(port)], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield Served(f"http://127.0.0.1:{port}", created.stdout.strip(), data_dir, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


async def _ready(client: httpx.AsyncClient, served: Served) -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                if (await client.get("/api/v1/nodes")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


async def _store(data_dir: Path, doc: dict[str, Any]) -> str:
    db = Database(Settings(data_dir=data_dir, database_url=None).resolved_database_url())
    try:
        await db.migrate()
        return (await WorkflowRepository(db).create(doc)).id
    finally:
        await db.close()


async def test_a_real_server_resumes_a_cut_stream_with_last_event_id(served: Served):
    headers = {"Authorization": f"Bearer {served.key}"}
    timeout = httpx.Timeout(30)
    async with httpx.AsyncClient(base_url=served.url, headers=headers, timeout=timeout) as client:
        await _ready(client, served)
        workflow_id = await _store(served.data_dir, chain(0.2, 1, 1, 1))
        execution_id = await start(client, workflow_id, input={"n": 1})

        head: list[Sse] = []
        url = f"/api/v1/executions/{execution_id}/stream"
        async with client.stream("GET", url) as response:
            async for event in sse(response):
                head.append(event)
                if event.event == "node.completed" and event.data["node_id"] == "d1":
                    break
        running = (await client.get(f"/api/v1/executions/{execution_id}")).json()
        assert running["status"] == "running"

        resume = {"Last-Event-ID": str(head[-1].id)}
        async with client.stream("GET", url, headers=resume) as response:
            rest = [event async for event in sse(response)]

        events = head + rest
        check_well_formed(events, execution_id)
        assert events[-1].event == "execution.completed"
        assert events == await read_stream(client, execution_id)
        finished = await until(client, execution_id, ended)
        assert finished["status"] == "succeeded"
    assert "Exception in ASGI application" not in served.log.read_text()


SMALL_BUFFER = 4096  # bytes: the kernel's socket buffers stay small, so a stalled client is felt


@pytest.fixture
async def uvicorn_url(server: Server) -> AsyncIterator[str]:
    """The app under uvicorn in this process, logging to the root logger (``caplog``)."""
    app = create_app(server.settings, server=server)
    config = uvicorn.Config(app, lifespan="off", log_config=None, ws="none")
    served = uvicorn.Server(config)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)  # accepted ones inherit it
    sock.bind(("127.0.0.1", 0))
    task = asyncio.create_task(served.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while True:
            if served.started:
                break
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    served.should_exit = True
    await task
    sock.close()


class RawClient:
    """One HTTP/1.1 request on a socket of its own, to read as slowly as a test likes and
    to leave as abruptly."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.received = b""

    @classmethod
    async def get(cls, url: str, path: str, key: str) -> RawClient:
        host, port = url.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=SMALL_BUFFER)
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\r\n"
        writer.write(request.encode())
        return cls(reader, writer)

    async def read_until(self, *wanted: bytes) -> None:
        async with asyncio.timeout(10):
            while not all(w in self.received for w in wanted):
                self.received += await self.reader.read(SMALL_BUFFER)

    def leave(self, *, reset: bool) -> None:
        """A plain close, or a reset as when a network drops."""
        if reset:
            linger = struct.pack("ii", 1, 0)
            self.writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, linger
            )
        self.writer.close()


STREAM_TASKS = {"_next", "_disconnected", "_pump", "watch"}


async def _nothing_left_nor_logged(server: Server, execution_id: str, caplog) -> None:
    """No bus subscription nor task of a stream left, nothing logged as an error."""
    async with asyncio.timeout(5):
        while True:
            if not server.parts.bus.watching(execution_id) and not _stream_tasks():
                break
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # a late error would be logged by now
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert [r.getMessage()[:500] for r in errors] == []
    assert "Traceback" not in caplog.text


def _stream_tasks() -> list[asyncio.Task[object]]:
    tasks = asyncio.all_tasks()
    return [t for t in tasks if getattr(t.get_coro(), "__name__", None) in STREAM_TASKS]


async def test_clients_leaving_during_keep_alive_leave_no_error_and_no_subscription(
    client, server, uvicorn_url, caplog, monkeypatch
):
    """A client going away mid-stream is normal: nothing is logged as an error, and the
    bus subscription and the stream's tasks end with the request."""
    monkeypatch.setattr(server.settings, "stream_keepalive_s", 0.002)
    _, key = await server.parts.auth.create_api_key("watcher")
    execution_id = await start(client, await stored(server, chain(60)))
    path = f"/api/v1/executions/{execution_id}/stream"
    caplog.set_level(logging.INFO)
    for n in range(20):
        watcher = await RawClient.get(uvicorn_url, path, key)
        await watcher.read_until(b"\nid: 1\n", b": ping\n\n")
        watcher.leave(reset=n % 2 == 0)
    await _nothing_left_nor_logged(server, execution_id, caplog)
    await client.post(f"/api/v1/executions/{execution_id}/cancel?wait=true")


async def test_a_client_that_stops_reading_then_leaves_ends_its_stream_quietly(
    client, server, uvicorn_url, caplog, monkeypatch
):
    """A large event fills the connection of a client that stopped reading (a phone put
    away); keep-alive comments pile up behind it; then the client goes."""
    monkeypatch.setattr(server.settings, "stream_keepalive_s", 0.002)
    _, key = await server.parts.auth.create_api_key("watcher")
    doc = document(
        node("start", "trigger.manual"),
        node("big", "test.raise", params={"message": "x" * 500_000}, on_error="continue"),
        node("wait", "core.delay", params={"seconds": 60}),
        links=("start -> big", "start -> wait"),
    )
    execution_id = await start(client, await stored(server, doc))
    await until(client, execution_id, lambda e: "big" in e["nodes"])
    path = f"/api/v1/executions/{execution_id}/stream"
    caplog.set_level(logging.INFO)
    caplog.clear()  # the node's own error
    for reset in (False, True):
        watcher = await RawClient.get(uvicorn_url, path, key)
        await watcher.read_until(b"\nid: 1\n")
        await asyncio.sleep(0.2)  # not reading
        watcher.leave(reset=reset)
    await _nothing_left_nor_logged(server, execution_id, caplog)
    await client.post(f"/api/v1/executions/{execution_id}/cancel?wait=true")
