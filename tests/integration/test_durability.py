"""Durable executions against a real ``tav serve``: SIGKILL mid-run and SIGTERM.

The workflow is stored straight into the data dir's database before the server starts;
executions are started and followed over HTTP; what was stored is read back from the
database once the server is gone.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tav.settings import Settings
from tav.storage.db import Database
from tav.storage.executions import ExecutionRecord, ExecutionRepository
from tav.storage.workflows import WorkflowRepository
from tests.helpers import document, node

TAV = [sys.executable, "-m", "tav"]


class Recorder:
    """A local HTTP server that notes every request: its path and Idempotency-Key."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.requests.append((self.path, self.headers.get("Idempotency-Key")))
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def calls(self, path: str) -> list[str | None]:
        return [key for seen, key in self.requests if seen == path]


class Tav:
    """``tav serve`` processes, one at a time, over one data dir."""

    def __init__(self, data_dir: Path, log: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.log = log
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
        self.env.update(TAV_DATA_DIR=str(data_dir), **env)
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        created = subprocess.run(
            [*TAV, "api-keys", "create", "--name", "t", "--init"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        self.headers = {"Authorization": f"Bearer {created.stdout.strip()}"}

    async def start(self) -> httpx.AsyncClient:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = await asyncio.to_thread(self._spawn, port)
        async with self.client() as probe, asyncio.timeout(30):
            while True:
                assert self.process.poll() is None, self.log.read_text()
                try:
                    if (await probe.get("/api/v1/auth/status")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        return self.client()

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        with self.log.open("a") as output:
            return subprocess.Popen(
                [*TAV, "serve", "--port", str(port)],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=30)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, within_s: float) -> int:
        assert self.process is not None
        return await asyncio.to_thread(self.process.wait, within_s)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _with_db(data_dir: Path, action: Any) -> Any:
    db = Database(Settings(data_dir=data_dir, database_url=None).resolved_database_url())
    try:
        await db.migrate()
        return await action(db)
    finally:
        await db.close()


async def store_workflow(data_dir: Path, doc: dict[str, Any]) -> str:
    async def create(db: Database) -> str:
        return (await WorkflowRepository(db).create(doc)).id

    return str(await _with_db(data_dir, create))


async def stored_execution(
    data_dir: Path, execution_id: str
) -> tuple[ExecutionRecord, list[dict[str, Any]]]:
    async def read(db: Database) -> tuple[ExecutionRecord, list[dict[str, Any]]]:
        executions = ExecutionRepository(db)
        record = await executions.get(execution_id)
        assert record is not None
        return record, await executions.events(execution_id)

    result: tuple[ExecutionRecord, list[dict[str, Any]]] = await _with_db(data_dir, read)
    return result


async def run(client: httpx.AsyncClient, workflow_id: str) -> str:
    response = await client.post(f"/api/v1/workflows/{workflow_id}/run", json={"input": {}})
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


async def until(
    client: httpx.AsyncClient, execution_id: str, done: Any, within_s: float = 20
) -> dict[str, Any]:
    async with asyncio.timeout(within_s):
        while True:
            response = await client.get(f"/api/v1/executions/{execution_id}")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if done(body):
                return body
            await asyncio.sleep(0.05)


def settled(*node_ids: str) -> Any:
    return lambda body: all(
        body["nodes"].get(node_id, {}).get("status") == "succeeded" for node_id in node_ids
    )


def finished(body: dict[str, Any]) -> bool:
    return body["status"] in ("succeeded", "failed", "cancelled")


def waiting(body: dict[str, Any]) -> bool:
    return bool(body["status"] == "waiting")


def check_numbered(events: list[dict[str, Any]]) -> None:
    """Sequence numbers 1..n: no gap, no duplicate."""
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))


def count(events: list[dict[str, Any]], type_: str, node_id: str) -> int:
    return sum(1 for e in events if e["type"] == type_ and e.get("node_id") == node_id)


def post(node_id: str, url: str) -> dict[str, Any]:
    params = {"method": "POST", "url": url, "json": {"node": node_id}, "idempotent": True}
    return node(node_id, "core.http_request", params=params)


async def test_sigkill_mid_run_resumes_from_the_settled_nodes(tav: Tav, recorder: Recorder):
    url = recorder.url
    doc = document(
        node("start", "trigger.manual"),
        node("d1", "core.delay", params={"seconds": 0.1}),
        post("r1", f"{url}/r1"),
        node("d2", "core.delay", params={"seconds": 1.5}),
        post("r2", f"{url}/r2"),
        node("p1", "core.delay", params={"seconds": 0.1}),
        post("rp1", f"{url}/rp1"),
        node("p2", "core.delay", params={"seconds": 1.5}),
        post("rp2", f"{url}/rp2"),
        links=(
            "start -> d1",
            "d1 -> r1",
            "r1 -> d2",
            "d2 -> r2",
            "start -> p1",
            "p1 -> rp1",
            "start -> p2",
            "p2 -> rp2",
        ),
    )
    workflow_id = await store_workflow(tav.data_dir, doc)
    async with await tav.start() as client:
        execution_id = await run(client, workflow_id)
        # r1 and rp1 have settled (and are stored); d2 and p2 are running.
        await until(client, execution_id, settled("d1", "r1", "p1", "rp1"))
    tav.signal(signal.SIGKILL)
    await tav.wait(15)
    assert recorder.calls("/r2") == recorder.calls("/rp2") == []

    async with await tav.start() as client:
        result = await until(client, execution_id, finished)
    assert result["status"] == "succeeded", result

    for path, node_id in (("/r1", "r1"), ("/rp1", "rp1"), ("/r2", "r2"), ("/rp2", "rp2")):
        assert recorder.calls(path) == [f"{execution_id}:{node_id}"], recorder.requests
    tav.signal(signal.SIGTERM)
    await tav.wait(15)
    record, events = await stored_execution(tav.data_dir, execution_id)
    check_numbered(events)
    assert record.last_seq == len(events)
    assert [e["type"] for e in events].count("execution.started") == 1
    assert events[-1]["type"] == "execution.completed"
    for settled_before in ("start", "d1", "r1", "p1", "rp1"):
        assert count(events, "node.completed", settled_before) == 1, settled_before
        assert count(events, "node.started", settled_before) <= 1, settled_before
    for running_at_kill in ("d2", "p2"):  # started twice: before the kill, after the resume
        assert count(events, "node.started", running_at_kill) == 2, running_at_kill
        assert count(events, "node.completed", running_at_kill) == 1, running_at_kill


async def test_sigterm_finishes_short_nodes_and_leaves_long_ones_to_resume(tav: Tav):
    short = await store_workflow(
        tav.data_dir,
        document(
            node("start", "trigger.manual"),
            node("wait", "core.delay", params={"seconds": 0.8}),
            links=("start -> wait",),
            name="short",
        ),
    )
    long = await store_workflow(
        tav.data_dir,
        document(
            node("start", "trigger.manual"),
            node("first", "core.noop"),
            node("wait", "core.delay", params={"seconds": 3}),
            node("after", "core.noop"),
            links=("start -> first", "first -> wait", "wait -> after"),
            name="long",
        ),
    )
    async with await tav.start() as client:
        quick = await run(client, short)
        slow = await run(client, long)
        await until(client, slow, settled("first"))
    clock = time.monotonic()
    tav.signal(signal.SIGTERM)
    await tav.wait(15)
    assert time.monotonic() - clock < 2 + 2  # shutdown_timeout_s, and then some

    done, _ = await stored_execution(tav.data_dir, quick)
    assert done.status.value == "succeeded"
    left, events = await stored_execution(tav.data_dir, slow)
    assert left.status.value == "running"  # not cancelled: it resumes
    assert left.nodes["first"].status.value == "succeeded"
    assert "wait" not in left.nodes
    assert not any(e["type"].endswith("cancelled") for e in events)

    async with await tav.start() as client:
        result = await until(client, slow, finished)
    assert result["status"] == "succeeded", result
    _, events = await stored_execution(tav.data_dir, slow)
    check_numbered(events)
    assert count(events, "node.completed", "first") == 1
    assert count(events, "node.started", "wait") == 2
