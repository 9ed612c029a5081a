"""Waits inside sub-workflows across a restart of a real ``tav serve`` (SQLite data dir):
a parent whose ``core.map`` item waits, killed meanwhile, goes on once the item's wait is
decided after the restart, running nothing twice."""

from __future__ import annotations

import signal
from typing import Any

from tests.helpers import document, item_asking, node
from tests.integration.test_durability import (
    Recorder,
    Tav,
    finished,
    post,
    run,
    store_workflow,
    until,
    waiting,
)


def item_workflow(url: str) -> dict[str, Any]:
    """Calls the recorder; item 1 then waits for an approval; outputs a number."""
    return item_asking(post("hit", f"{url}/item"), name="item")


async def test_killed_while_a_map_item_waits_the_parent_goes_on_once_it_is_decided(
    tav: Tav, recorder: Recorder
) -> None:
    child = await store_workflow(tav.data_dir, item_workflow(recorder.url))
    parent_doc = document(
        node("start", "trigger.manual"),
        node("each", "core.map", params={"items": [10, 20, 30], "workflow": child}),
        post("after", f"{recorder.url}/after"),
        node("out", "core.output", params={"value": "{{ nodes.each.output }}"}),
        links=("start -> each", "each -> after", "after -> out"),
    )
    parent_id = await store_workflow(tav.data_dir, parent_doc)
    async with await tav.start() as client:
        execution_id = await run(client, parent_id)
        await until(client, execution_id, waiting)
    assert len(recorder.calls("/item")) == 3
    tav.signal(signal.SIGKILL)
    await tav.wait(15)

    async with await tav.start() as client:
        listed = (await client.get("/api/v1/executions", params={"status": "waiting"})).json()
        by_id = {item["execution_id"]: item for item in listed["items"]}
        (parent_wait,) = by_id[execution_id]["waits"]
        assert parent_wait["mode"] == "execution"
        (child_id,) = parent_wait["executions"]
        assert by_id[child_id]["waits"][0]["node_id"] == "ask"
        body = {"decision": "approve", "data": {"amount": 5}}
        decided = await client.post(f"/api/v1/executions/{child_id}/waits/ask", json=body)
        assert decided.status_code == 200, decided.text
        result = await until(client, execution_id, finished)
    assert result["status"] == "succeeded", result
    assert result["output"] == [20, 5, 60]
    assert len(recorder.calls("/item")) == 3  # no item ran again
    assert recorder.calls("/after") == [f"{execution_id}:after"]
    tav.signal(signal.SIGTERM)
    await tav.wait(15)
