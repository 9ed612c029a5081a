"""Queue mode with real processes, the rest of what a person does to executions: cancel
one a worker runs (or that waits for one), retry one, run one from a node, and workflows
that call workflows, whose sub-executions a worker runs and fences with its lease."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import asyncpg
import httpx
import pytest

from tests.helpers import document, node
from tests.integration.queue.cluster import Cluster
from tests.integration.queue.test_queue_mode import chain, run
from tests.integration.test_durability import (
    Recorder,
    check_numbered,
    count,
    finished,
    post,
    settled,
    until,
)


class Gate:
    """A local HTTP server that answers 503 until it is opened, then 200; notes each
    request's Idempotency-Key."""

    def __init__(self) -> None:
        self.open = False
        self.calls: list[str | None] = []
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                gate.calls.append(self.headers.get("Idempotency-Key"))
                body = b'{"ok": true}'
                self.send_response(200 if gate.open else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def gate() -> Iterator[Gate]:
    made = Gate()
    yield made
    made.http.shutdown()
    made.http.server_close()


def types(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(event["type"], event.get("node_id")) for event in events]


async def cancel(client: httpx.AsyncClient, execution_id: str) -> httpx.Response:
    return await client.post(f"/api/v1/executions/{execution_id}/cancel")


# -- cancelling ------------------------------------------------------------------------


async def test_a_queued_execution_is_cancelled_at_once_and_no_worker_starts_it_later(
    cluster: Cluster, recorder: Recorder
):
    workflow_id = await cluster.store_workflow(chain(recorder.url, pause_s=0.05))
    _, client = await cluster.serve()
    async with client:
        execution_id = (await run(client, workflow_id)).json()["execution_id"]
        async with asyncio.timeout(10):  # its task is in the broker
            while await cluster.column(execution_id, "published_at") is None:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        response = await cancel(client, execution_id)
        assert response.status_code == 202, response.text
        body = (await client.get(f"/api/v1/executions/{execution_id}")).json()
        assert body["status"] == "cancelled", body  # at once, with no worker running
        await cluster.worker()
        await asyncio.sleep(2)  # the worker takes the task, and leaves it
        again = (await client.get(f"/api/v1/executions/{execution_id}")).json()
        refused = await cancel(client, execution_id)
    assert again["status"] == "cancelled"
    assert {n["status"] for n in again["nodes"].values()} == {"cancelled"}
    assert recorder.requests == []
    assert again.get("worker") is None  # no worker ran it
    assert refused.status_code == 409, refused.text
    _, events = await cluster.stored(execution_id)
    check_numbered(events)  # as any execution cancelled as it started, in one process
    assert types(events) == [
        ("execution.started", None),
        *[("node.cancelled", node_id) for node_id in ("start", "r1", "d", "r2")],
        ("execution.cancelled", None),
    ]


async def test_another_api_process_cancels_what_a_worker_runs_within_a_second(
    cluster: Cluster, recorder: Recorder
):
    # Leases of 30 s are renewed every 10 s: only the notification can be this quick.
    lease = {"TAV_QUEUE_LEASE_S": "30"}
    workflow_id = await cluster.store_workflow(chain(recorder.url, pause_s=30))
    await cluster.worker(**lease)
    _, first = await cluster.serve(**lease)
    _, second = await cluster.serve(**lease)
    async with first, second:
        execution_id = (await run(first, workflow_id)).json()["execution_id"]
        await until(first, execution_id, settled("r1"))
        await asyncio.sleep(0.2)  # well into the delay
        asked = time.monotonic()
        response = await cancel(second, execution_id)
        assert response.status_code == 202, response.text
        body = await until(second, execution_id, finished, within_s=5)
        took = time.monotonic() - asked
    worker = await cluster.column(execution_id, "worker")
    _, events = await cluster.stored(execution_id)
    assert body["status"] == "cancelled", body
    assert took < 1.0, took
    assert body["nodes"]["r1"]["status"] == "succeeded"
    assert body["nodes"]["d"]["status"] == "cancelled"
    assert body["nodes"]["r2"]["status"] == "cancelled"
    assert body["worker"] == worker is not None  # the worker ran it and stopped it
    assert recorder.calls("/r2") == []
    check_numbered(events)
    assert types(events)[-3:] == [
        ("node.cancelled", "d"),
        ("node.cancelled", "r2"),
        ("execution.cancelled", None),
    ]


async def test_a_worker_listens_again_once_its_listening_connection_was_cut(
    cluster: Cluster, recorder: Recorder
):
    lease = {"TAV_QUEUE_LEASE_S": "30"}  # renewed every 10 s: the notice must get through
    workflow_id = await cluster.store_workflow(chain(recorder.url, pause_s=30))
    worker = await cluster.worker(**lease)
    _, client = await cluster.serve(**lease)
    listener = (
        "FROM pg_stat_activity"
        " WHERE application_name = 'tav cancel listener' AND datname = current_database()"
    )
    admin = await asyncpg.connect(cluster.database_url.replace("+asyncpg", ""))
    try:
        async with asyncio.timeout(10):
            while await admin.fetchval(f"SELECT count(*) {listener}") != 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        cut = await admin.fetchval(f"SELECT count(pg_terminate_backend(pid)) {listener}")
    finally:
        await admin.close()
    assert cut == 1
    async with client:
        execution_id = (await run(client, workflow_id)).json()["execution_id"]
        await until(client, execution_id, settled("r1"))
        await asyncio.sleep(1.5)  # listening again (within a second of the cut)
        asked = time.monotonic()
        assert (await cancel(client, execution_id)).status_code == 202
        body = await until(client, execution_id, finished, within_s=5)
        took = time.monotonic() - asked
    assert body["status"] == "cancelled", body
    assert took < 1.0, took
    assert "listening for cancellations failed" in worker.log.read_text()


async def test_a_cancel_its_worker_missed_is_carried_out_by_the_worker_that_takes_over(
    cluster: Cluster, recorder: Recorder
):
    lease = {"TAV_QUEUE_LEASE_S": "6"}
    workflow_id = await cluster.store_workflow(chain(recorder.url, pause_s=30))
    first = await cluster.worker(**lease)
    _, client = await cluster.serve(**lease)
    async with client:
        execution_id = (await run(client, workflow_id)).json()["execution_id"]
        await until(client, execution_id, settled("r1"))
        first.signal(signal.SIGKILL)  # dies holding the lease: nobody hears the cancel
        await first.wait(10)
        response = await cancel(client, execution_id)
        assert response.status_code == 202, response.text
        assert await cluster.column(execution_id, "status") == "running"
        await cluster.worker(**lease)  # claims it once the lease expires, and cancels it
        body = await until(client, execution_id, finished, within_s=30)
    _, events = await cluster.stored(execution_id)
    assert body["status"] == "cancelled", body
    assert body["nodes"]["r1"]["status"] == "succeeded"
    assert body["nodes"]["r2"]["status"] == "cancelled"
    assert recorder.calls("/r1") == [f"{execution_id}:r1"]
    assert recorder.calls("/r2") == []
    check_numbered(events)
    assert types(events)[-1] == ("execution.cancelled", None)


# -- retry and run from a node -----------------------------------------------------------


async def test_a_retry_and_a_run_from_a_node_run_on_a_worker_reusing_what_succeeded(
    cluster: Cluster, recorder: Recorder, gate: Gate
):
    doc = document(
        node("start", "trigger.manual"),
        post("r1", f"{recorder.url}/r1"),
        post("g", f"{gate.url}/g"),
        post("r2", f"{recorder.url}/r2"),
        links=("start -> r1", "r1 -> g", "g -> r2"),
    )
    workflow_id = await cluster.store_workflow(doc)
    await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        first = (await run(client, workflow_id, wait="true")).json()
        assert first["status"] == "failed", first
        gate.open = True
        response = await client.post(f"/api/v1/executions/{first['execution_id']}/retry")
        assert response.status_code == 202, response.text
        retry_id = response.json()["execution_id"]
        retried = await until(client, retry_id, finished)
        response = await client.post(
            f"/api/v1/workflows/{workflow_id}/run",
            json={"from_execution": retry_id, "start_at": ["r2"]},
        )
        assert response.status_code == 202, response.text
        again_id = response.json()["execution_id"]
        again = await until(client, again_id, finished)
    assert retried["status"] == "succeeded", retried
    assert retried["mode"] == "retry"
    assert retried["retry_of"] == first["execution_id"]
    assert retried["worker"] is not None  # a worker ran it, not the API process
    assert retried["nodes"]["r1"]["reused"] is True
    assert "reused" not in retried["nodes"]["g"]
    assert again["status"] == "succeeded", again
    assert again["worker"] is not None
    assert [again["nodes"][n].get("reused") for n in ("r1", "g", "r2")] == [True, True, None]
    assert recorder.calls("/r1") == [f"{first['execution_id']}:r1"]  # never again
    assert gate.calls == [f"{first['execution_id']}:g", f"{retry_id}:g"]
    assert recorder.calls("/r2") == [f"{retry_id}:r2", f"{again_id}:r2"]
    for execution_id in (retry_id, again_id):
        _, events = await cluster.stored(execution_id)
        check_numbered(events)
        assert count(events, "node.completed", "r1") == 1  # reported, as reused


# -- sub-executions ---------------------------------------------------------------------


def calling(kind: str, child_id: str, url: str) -> dict[str, Any]:
    """A parent: start -> call (the child, by core.subworkflow or core.map with separate
    executions) -> p (POST)."""
    if kind == "subworkflow":
        call = node("call", "core.subworkflow", params={"workflow": child_id})
    else:
        params = {"workflow": child_id, "items": [1], "separate_executions": True}
        call = node("call", "core.map", params=params)
    return document(
        node("start", "trigger.manual"),
        call,
        post("p", f"{url}/p"),
        links=("start -> call", "call -> p"),
        name="parent",
    )


@pytest.mark.parametrize("kind", ["subworkflow", "map"])
async def test_a_frozen_worker_writes_nothing_of_its_sub_executions_once_another_took_over(
    cluster: Cluster, recorder: Recorder, kind: str
):
    child = document(
        node("start", "trigger.manual"),
        post("c1", f"{recorder.url}/c1"),
        node("cd", "core.delay", params={"seconds": 6}),
        post("c2", f"{recorder.url}/c2"),
        links=("start -> c1", "c1 -> cd", "cd -> c2"),
        name="child",
    )
    child_id = await cluster.store_workflow(child)
    workflow_id = await cluster.store_workflow(calling(kind, child_id, recorder.url))
    first = await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        parent_id = (await run(client, workflow_id)).json()["execution_id"]
        async with asyncio.timeout(20):
            while not recorder.calls("/c1"):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        old_child = str(recorder.calls("/c1")[0]).split(":")[0]
        await until(client, old_child, settled("c1"))
        first.signal(signal.SIGSTOP)  # frozen in the child's delay, holding the lease
        first_worker = await cluster.column(parent_id, "worker")
        await cluster.worker()
        async with asyncio.timeout(20):  # the lease expires, another worker takes over
            while await cluster.column(parent_id, "worker") == first_worker:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        first.signal(signal.SIGCONT)
        body = await until(client, parent_id, finished, within_s=30)
        await asyncio.sleep(1.5)  # time for the first worker to write, were it to
        old = (await client.get(f"/api/v1/executions/{old_child}")).json()
        # the parent's node ran it again: another child, with a new id
        [new_child] = {str(key).split(":")[0] for key in recorder.calls("/c1")} - {old_child}
        new = (await client.get(f"/api/v1/executions/{new_child}")).json()
    assert body["status"] == "succeeded", body
    # The interrupted child is settled as crashed when the parent is taken over (as a
    # single process does when it starts again), and nothing of it is written after.
    assert old["status"] == "failed", old
    assert old["error"]["type"] == "crashed"
    assert old["parent_execution_id"] == parent_id
    _, old_events = await cluster.stored(old_child)
    assert not any(e["type"].startswith("execution.") for e in old_events[1:]), old_events
    assert not any(e["type"] == "node.cancelled" for e in old_events), old_events
    assert (new["status"], new["parent_execution_id"]) == ("succeeded", parent_id)
    assert recorder.calls("/c2") == [f"{new_child}:c2"]  # the frozen one never got there
    assert recorder.calls("/p") == [f"{parent_id}:p"]
    _, events = await cluster.stored(parent_id)
    check_numbered(events)
