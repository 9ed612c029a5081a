"""Executions that wait, across restarts of a real ``tav serve`` (SQLite data dir): one
killed while an execution waits resumes it once decided, running nothing twice; a timer
that came due while the server was down fires once it is back, once."""

from __future__ import annotations

import asyncio
import signal
import time

from tests.helpers import document, node
from tests.integration.test_durability import (
    Recorder,
    Tav,
    check_numbered,
    count,
    finished,
    post,
    run,
    store_workflow,
    stored_execution,
    until,
    waiting,
)


async def test_killed_while_an_execution_waits_it_resumes_once_decided(
    tav: Tav, recorder: Recorder
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        post("before", f"{recorder.url}/before"),
        node("ask", "core.wait", params={"mode": "approval", "title": "Go on?"}),
        post("after", f"{recorder.url}/after"),
        links=("start -> before", "before -> ask", "ask:approved -> after"),
    )
    workflow_id = await store_workflow(tav.data_dir, doc)
    async with await tav.start() as client:
        execution_id = await run(client, workflow_id)
        await until(client, execution_id, waiting)
    tav.signal(signal.SIGKILL)
    await tav.wait(15)

    async with await tav.start() as client:
        listed = (await client.get("/api/v1/executions", params={"status": "waiting"})).json()
        assert [item["execution_id"] for item in listed["items"]] == [execution_id]
        assert listed["items"][0]["waits"][0]["node_id"] == "ask"
        body = {"decision": "approve", "comment": "after the restart"}
        decided = await client.post(f"/api/v1/executions/{execution_id}/waits/ask", json=body)
        assert decided.status_code == 200, decided.text
        result = await until(client, execution_id, finished)
    assert result["status"] == "succeeded", result
    assert recorder.calls("/before") == [f"{execution_id}:before"]
    assert recorder.calls("/after") == [f"{execution_id}:after"]
    tav.signal(signal.SIGTERM)
    await tav.wait(15)
    record, events = await stored_execution(tav.data_dir, execution_id)
    check_numbered(events)
    assert record.last_seq == len(events)
    assert count(events, "node.started", "before") == 1
    assert count(events, "node.started", "ask") == 1  # it never ran again
    assert count(events, "node.completed", "ask") == 1
    types = [e["type"] for e in events]
    assert types.count("execution.waiting") == 1
    assert types[-1] == "execution.completed"


async def test_a_timer_due_while_the_server_was_down_fires_once_it_is_back(
    tav: Tav, recorder: Recorder
) -> None:
    doc = document(
        node("start", "trigger.manual"),
        node("pause", "core.wait", params={"mode": "timer", "duration": "3s"}),
        post("after", f"{recorder.url}/after"),
        links=("start -> pause", "pause -> after"),
    )
    workflow_id = await store_workflow(tav.data_dir, doc)
    async with await tav.start() as client:
        execution_id = await run(client, workflow_id)
        parked = await until(client, execution_id, waiting)
    due = time.monotonic() + 3
    assert parked["nodes"]["pause"]["status"] == "waiting"
    tav.signal(signal.SIGTERM)
    await tav.wait(15)
    await asyncio.sleep(max(0.0, due - time.monotonic()) + 1)  # due while it is down
    stored, _ = await stored_execution(tav.data_dir, execution_id)
    assert stored.status.value == "waiting"
    assert recorder.calls("/after") == []

    async with await tav.start() as client:
        result = await until(client, execution_id, finished)
        assert result["status"] == "succeeded", result
        await asyncio.sleep(2.5)  # a second round of the timer loop fires nothing more
    tav.signal(signal.SIGTERM)
    await tav.wait(15)
    assert recorder.calls("/after") == [f"{execution_id}:after"]
    _, events = await stored_execution(tav.data_dir, execution_id)
    check_numbered(events)
    assert count(events, "node.completed", "pause") == 1
    assert [e["type"] for e in events].count("execution.waiting") == 1
