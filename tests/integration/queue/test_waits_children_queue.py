"""Waits inside sub-workflows in queue mode (real ``tav serve`` and ``tav worker``
processes over PostgreSQL and Redis): the child and its parent hold no worker while the
child waits; once its wait is decided, another worker resumes the child and then the
parent. Cancelling the waiting parent cancels its waiting child."""

from __future__ import annotations

import signal
from typing import Any

from tests.helpers import document, node
from tests.integration.queue.cluster import Cluster
from tests.integration.test_durability import Recorder, finished, post, run, until, waiting

FORM = {"type": "object", "properties": {"amount": {"type": "integer"}}}


def child_doc(url: str) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        post("hit", f"{url}/child"),
        node("ask", "core.wait", params={"mode": "approval", "fields": FORM}),
        node("out", "core.output", params={"value": {"paid": "{{ input.data.amount }}"}}),
        links=("start -> hit", "hit -> ask", "ask:approved -> out"),
        name="child",
    )


def parent_doc(child: str, url: str) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("call", "core.subworkflow", params={"workflow": child}),
        post("after", f"{url}/after"),
        node("out", "core.output", params={"value": "{{ nodes.call.output }}"}),
        links=("start -> call", "call -> after", "after -> out"),
        name="parent",
    )


async def parked_child(client: Any, execution_id: str) -> str:
    listed = (await client.get("/api/v1/executions", params={"status": "waiting"})).json()
    by_id = {item["execution_id"]: item for item in listed["items"]}
    (wait,) = by_id[execution_id]["waits"]
    assert wait["mode"] == "execution"
    (child_id,) = wait["executions"]
    assert by_id[child_id]["waits"][0]["node_id"] == "ask"
    return str(child_id)


async def test_a_child_decided_after_its_worker_died_resumes_with_its_parent_on_another(
    cluster: Cluster, recorder: Recorder
) -> None:
    child = await cluster.store_workflow(child_doc(recorder.url))
    parent = await cluster.store_workflow(parent_doc(child, recorder.url))
    first = await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        execution_id = await run(client, parent)
        await until(client, execution_id, waiting, within_s=30)
        child_id = await parked_child(client, execution_id)
        assert await cluster.column(execution_id, "lease_token") is None
        assert await cluster.column(child_id, "status") == "waiting"
        first.signal(signal.SIGKILL)
        await first.wait(10)
        await cluster.worker()
        body = {"decision": "approve", "data": {"amount": 9}}
        answer = await client.post(f"/api/v1/executions/{child_id}/waits/ask", json=body)
        assert answer.status_code == 200, answer.text
        result = await until(client, execution_id, finished, within_s=30)
        assert result["status"] == "succeeded", result
        assert result["output"] == {"paid": 9}
        child_result = (await client.get(f"/api/v1/executions/{child_id}")).json()
        assert child_result["status"] == "succeeded"
    assert len(recorder.calls("/child")) == 1
    assert recorder.calls("/after") == [f"{execution_id}:after"]


async def test_cancelling_a_waiting_parent_cancels_its_waiting_child(
    cluster: Cluster, recorder: Recorder
) -> None:
    child = await cluster.store_workflow(child_doc(recorder.url))
    parent = await cluster.store_workflow(parent_doc(child, recorder.url))
    await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        execution_id = await run(client, parent)
        await until(client, execution_id, waiting, within_s=30)
        child_id = await parked_child(client, execution_id)
        response = await client.post(f"/api/v1/executions/{execution_id}/cancel?wait=true")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
        child_result = await until(client, child_id, finished, within_s=30)
        assert child_result["status"] == "cancelled", child_result
        late = await client.post(
            f"/api/v1/executions/{child_id}/waits/ask", json={"decision": "approve"}
        )
        assert late.status_code == 409, late.text
    assert recorder.calls("/after") == []
