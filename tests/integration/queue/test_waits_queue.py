"""Executions that wait, in queue mode (real ``tav serve`` and ``tav worker`` processes
over PostgreSQL and Redis): a wait holds no worker, and whichever worker claims the
execution once it is decided resumes it; a timer due while every API process was down
fires once, however many come back."""

from __future__ import annotations

import asyncio
import signal
import time

from tests.helpers import document, node
from tests.integration.queue.cluster import Cluster
from tests.integration.test_durability import (
    Recorder,
    check_numbered,
    count,
    finished,
    post,
    run,
    until,
    waiting,
)


async def test_a_wait_decided_after_its_worker_died_resumes_on_another(
    cluster: Cluster, recorder: Recorder
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        post("before", f"{recorder.url}/before"),
        node("link", "core.set", params={"values": {"url": "{{ execution.resume_url('ask') }}"}}),
        node(
            "ask",
            "core.wait",
            params={
                "mode": "approval",
                "fields": {"type": "object", "properties": {"amount": {"type": "integer"}}},
            },
        ),
        post("after", f"{recorder.url}/after"),
        links=("start -> before", "before -> link", "link -> ask", "ask:approved -> after"),
    )
    workflow_id = await cluster.store_workflow(doc)
    first = await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        execution_id = await run(client, workflow_id)
        parked = await until(client, execution_id, waiting, within_s=30)
        parked_by = await cluster.column(execution_id, "worker")
        assert await cluster.column(execution_id, "lease_token") is None  # it holds no worker
        queue = (await client.get("/api/v1/queue")).json()
        assert (queue["queued"], queue["running"]) == (0, 0)
        first.signal(signal.SIGKILL)
        await first.wait(10)
        await cluster.worker()
        url = parked["nodes"]["link"]["outputs"]["output"]["url"]
        path = "/" + url.split("/", 3)[3]
        answer = await client.post(path, json={"decision": "approve", "data": {"amount": 7}})
        assert answer.status_code == 200, answer.text
        body = await until(client, execution_id, finished, within_s=30)
    assert body["status"] == "succeeded", body
    assert body["nodes"]["ask"]["outputs"]["approved"]["data"] == {"amount": 7}
    resumed_by = await cluster.column(execution_id, "worker")
    assert resumed_by != parked_by
    assert recorder.calls("/before") == [f"{execution_id}:before"]
    assert recorder.calls("/after") == [f"{execution_id}:after"]
    _, events = await cluster.stored(execution_id)
    check_numbered(events)
    assert count(events, "node.started", "ask") == 1
    assert count(events, "node.completed", "ask") == 1


async def test_a_timer_due_while_every_api_process_was_down_fires_once(
    cluster: Cluster, recorder: Recorder
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        node("pause", "core.wait", params={"mode": "timer", "duration": "3s"}),
        post("after", f"{recorder.url}/after"),
        links=("start -> pause", "pause -> after"),
    )
    workflow_id = await cluster.store_workflow(doc)
    await cluster.worker()
    api, client = await cluster.serve()
    async with client:
        execution_id = await run(client, workflow_id)
        await until(client, execution_id, waiting, within_s=30)
    due = time.monotonic() + 3
    api.signal(signal.SIGTERM)
    await api.wait(15)
    await asyncio.sleep(max(0.0, due - time.monotonic()) + 1)
    assert await cluster.column(execution_id, "status") == "waiting"
    # Two API processes come back at once: both find the timer due.
    (_, one), (_, two) = await asyncio.gather(cluster.serve(), cluster.serve())
    async with one, two:
        body = await until(one, execution_id, finished, within_s=30)
        assert body["status"] == "succeeded", body
        await asyncio.sleep(3)  # their next rounds fire nothing more
    assert recorder.calls("/after") == [f"{execution_id}:after"]
    _, events = await cluster.stored(execution_id)
    check_numbered(events)
    assert count(events, "node.completed", "pause") == 1
    assert [e["type"] for e in events].count("execution.waiting") == 1


async def test_a_waiting_execution_is_cancelled_and_its_link_answers_410(
    cluster: Cluster,
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        node("link", "core.set", params={"values": {"url": "{{ execution.resume_url('ask') }}"}}),
        node("ask", "core.wait", params={"mode": "approval"}),
        node("after", "core.noop"),
        links=("start -> link", "link -> ask", "ask:approved -> after"),
    )
    workflow_id = await cluster.store_workflow(doc)
    await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        execution_id = await run(client, workflow_id)
        parked = await until(client, execution_id, waiting, within_s=30)
        response = await client.post(f"/api/v1/executions/{execution_id}/cancel?wait=true")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "cancelled"
        assert body["nodes"]["ask"]["status"] == "cancelled"
        url = parked["nodes"]["link"]["outputs"]["output"]["url"]
        link = await client.post("/" + url.split("/", 3)[3], json={"decision": "approve"})
        assert link.status_code == 410
