"""Waits inside sub-workflows, over HTTP, on SQLite and PostgreSQL: a child execution that
waits (``core.subworkflow``, ``core.map``'s items, two levels deep) parks its parent's
node too; deciding the child's wait ends the child, and the parent goes on with its
output."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tests.api.helpers import ended, parked, stored, until
from tests.helpers import AMOUNT_FORM, document, item_asking, node

FORM = AMOUNT_FORM


def asking(name: str = "ask-child") -> dict[str, Any]:
    """An approval; approved: the amount, rejected: why."""
    return document(
        node("start", "trigger.manual"),
        node(
            "ask",
            "core.wait",
            params={"mode": "approval", "title": "{{ trigger.what }}", "fields": FORM},
        ),
        node("yes", "core.set", params={"values": {"paid": "{{ input.data.amount }}"}}),
        node("no", "core.set", params={"values": {"why": "{{ input.comment }}"}}),
        node("out", "core.output"),
        links=(
            "start -> ask",
            "ask:approved -> yes",
            "ask:rejected -> no",
            "yes -> out",
            "no -> out",
        ),
        name=name,
    )


def calling(child: str, name: str = "parent") -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("call", "core.subworkflow", params={"workflow": child, "input": {"what": "pay?"}}),
        node("after", "core.set", params={"values": {"got": "{{ input }}"}}),
        node("out", "core.output"),
        links=("start -> call", "call -> after", "after -> out"),
        name=name,
    )


def maybe_asking() -> dict[str, Any]:
    """Item 1 waits for an approval; the others double at once."""
    return item_asking(name="maybe-asking")


async def waiting_list(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    listed = (await client.get("/api/v1/executions", params={"status": "waiting"})).json()
    return {item["execution_id"]: item for item in listed["items"]}


async def decide(client: httpx.AsyncClient, execution_id: str, **body: Any) -> None:
    path = f"/api/v1/executions/{execution_id}/waits/ask"
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text


async def child_waiting(client: httpx.AsyncClient, parent: dict[str, Any]) -> str:
    """The child execution the parent's one wait waits for."""
    listed = await waiting_list(client)
    (wait,) = listed[parent["execution_id"]]["waits"]
    assert wait["mode"] == "execution"
    assert wait["may_decide"] is False
    (child_id,) = wait["executions"]
    return str(child_id)


async def test_a_sub_workflow_that_waits_parks_its_parent_until_it_is_decided(
    client: httpx.AsyncClient, server: Server
) -> None:
    child_workflow = await stored(server, asking())
    parent_id = await stored(server, calling(child_workflow))
    parent = await parked(client, parent_id)
    assert parent["nodes"]["call"]["status"] == "waiting"
    assert "after" not in parent["nodes"]
    child_id = await child_waiting(client, parent)
    listed = await waiting_list(client)
    (child_wait,) = listed[child_id]["waits"]
    assert (child_wait["mode"], child_wait["title"]) == ("approval", "pay?")
    assert child_wait["may_decide"] is True
    assert listed[child_id]["parent_execution_id"] == parent["execution_id"]
    # Listed with its workflow, at the version it runs: the editor opens it there.
    assert listed[child_id]["workflow_id"] == child_workflow
    assert listed[child_id]["workflow_version"] == 1
    # Nobody decides the parent's wait by hand.
    by_hand = await client.post(
        f"/api/v1/executions/{parent['execution_id']}/waits/call", json={"decision": "approve"}
    )
    assert by_hand.status_code == 409, by_hand.text

    await decide(client, child_id, decision="approve", data={"amount": 40})

    finished = await until(client, parent["execution_id"], ended, within_s=15)
    assert finished["status"] == "succeeded", finished
    assert finished["nodes"]["call"]["outputs"]["output"] == {"paid": 40}
    assert finished["nodes"]["after"]["outputs"]["output"] == {"got": {"paid": 40}}
    child = (await client.get(f"/api/v1/executions/{child_id}")).json()
    assert child["status"] == "succeeded"
    assert await waiting_list(client) == {}


async def test_a_rejected_child_goes_down_its_rejected_branch_and_the_parent_takes_it(
    client: httpx.AsyncClient, server: Server
) -> None:
    parent = await parked(client, await stored(server, calling(await stored(server, asking()))))
    child_id = await child_waiting(client, parent)
    await decide(client, child_id, decision="reject", comment="too much")
    finished = await until(client, parent["execution_id"], ended, within_s=15)
    assert finished["status"] == "succeeded", finished
    assert finished["nodes"]["after"]["outputs"]["output"] == {"got": {"why": "too much"}}


async def test_a_child_that_fails_after_its_wait_fails_the_parents_node(
    client: httpx.AsyncClient, server: Server
) -> None:
    child = document(
        node("start", "trigger.manual"),
        node("ask", "core.wait", params={"mode": "approval"}),
        node("boom", "core.fail", params={"message": "refused: {{ input.comment }}"}),
        links=("start -> ask", "ask:rejected -> boom"),
        name="failing-child",
    )
    parent = await parked(client, await stored(server, calling(await stored(server, child))))
    child_id = await child_waiting(client, parent)
    await decide(client, child_id, decision="reject", comment="no")
    finished = await until(client, parent["execution_id"], ended, within_s=15)
    assert finished["status"] == "failed", finished
    error = finished["nodes"]["call"]["error"]
    assert error["type"] == "subworkflow_failed"
    assert "sub-workflow 'failing-child' failed" in error["message"]
    assert "refused: no" in error["message"]


async def test_a_wait_two_levels_deep_parks_both_parents(
    client: httpx.AsyncClient, server: Server
) -> None:
    inner = await stored(server, asking("inner"))
    middle = await stored(server, calling(inner, name="middle"))
    outer = await parked(client, await stored(server, calling(middle, name="outer")))
    middle_id = await child_waiting(client, outer)
    listed = await waiting_list(client)
    (middle_wait,) = listed[middle_id]["waits"]
    assert middle_wait["mode"] == "execution"
    (inner_id,) = middle_wait["executions"]
    assert listed[inner_id]["waits"][0]["mode"] == "approval"

    await decide(client, inner_id, decision="approve", data={"amount": 5})

    finished = await until(client, outer["execution_id"], ended, within_s=15)
    assert finished["status"] == "succeeded", finished
    assert finished["nodes"]["after"]["outputs"]["output"] == {"got": {"got": {"paid": 5}}}


async def test_a_map_whose_item_waits_parks_and_keeps_the_other_items_outputs(
    client: httpx.AsyncClient, server: Server
) -> None:
    child = await stored(server, maybe_asking())
    mapper = document(
        node("start", "trigger.manual"),
        node("each", "core.map", params={"items": [10, 20, 30], "workflow": child}),
        node("out", "core.output"),
        links=("start -> each", "each -> out"),
        name="mapper",
    )
    parent = await parked(client, await stored(server, mapper))
    assert parent["nodes"]["each"]["status"] == "waiting"
    waiting_child = await child_waiting(client, parent)
    # Every item ran as an execution of its own (the mapped workflow waits): the two that
    # did not wait have ended, and are not run again.
    response = await client.get("/api/v1/executions", params={"limit": 50})
    children = [
        item
        for item in response.json()["items"]
        if item["parent_execution_id"] == parent["execution_id"]
    ]
    assert sorted(item["status"] for item in children) == ["succeeded", "succeeded", "waiting"]

    await decide(client, waiting_child, decision="approve", data={"amount": 7})

    finished = await until(client, parent["execution_id"], ended, within_s=15)
    assert finished["status"] == "succeeded", finished
    assert finished["output"] == [20, 7, 60]
    response = await client.get("/api/v1/executions", params={"limit": 50})
    again = [
        item
        for item in response.json()["items"]
        if item["parent_execution_id"] == parent["execution_id"]
    ]
    assert len(again) == 3


async def test_cancelling_a_parent_cancels_its_waiting_child_and_its_links(
    client: httpx.AsyncClient, server: Server
) -> None:
    parent = await parked(client, await stored(server, calling(await stored(server, asking()))))
    child_id = await child_waiting(client, parent)
    response = await client.post(f"/api/v1/executions/{parent['execution_id']}/cancel")
    assert response.status_code in (200, 202), response.text
    finished = await until(client, parent["execution_id"], ended, within_s=15)
    assert finished["status"] == "cancelled", finished
    child = await until(client, child_id, ended, within_s=15)
    assert child["status"] == "cancelled", child
    late = await client.post(
        f"/api/v1/executions/{child_id}/waits/ask", json={"decision": "approve"}
    )
    assert late.status_code == 409, late.text
    link = server.parts.waits.links.url(child_id, "ask") if server.parts.waits else ""
    gone = await client.post("/" + link.split("/", 3)[3], json={"decision": "approve"})
    assert gone.status_code == 410, gone.text


async def test_a_map_item_that_fails_under_stop_cancels_the_items_left_waiting(
    client: httpx.AsyncClient, server: Server
) -> None:
    """Item 1 parks at once; item 0 fails a moment later: the node fails, and the
    execution's end cancels item 1's waiting run."""
    item = document(
        node("start", "trigger.manual"),
        node("check", "core.if", params={"condition": "{{ trigger.index == 1 }}"}),
        node("ask", "core.wait", params={"mode": "approval"}),
        node("pause", "core.delay", params={"seconds": 0.3}),
        node("boom", "core.fail", params={"message": "item {{ trigger.index }} failed"}),
        links=("start -> check", "check:true -> ask", "check:false -> pause", "pause -> boom"),
        name="failing-item",
    )
    mapper = document(
        node("start", "trigger.manual"),
        node("each", "core.map", params={"items": [0, 1], "workflow": await stored(server, item)}),
        links=("start -> each",),
        name="mapper",
    )
    response = await client.post(
        f"/api/v1/workflows/{await stored(server, mapper)}/run?wait=true", json={}
    )
    finished = response.json()
    assert finished["status"] == "failed", finished
    assert finished["nodes"]["each"]["error"]["message"].startswith("item 0: ")
    children = await until_children_ended(client, finished["execution_id"])
    assert sorted(child["status"] for child in children) == ["cancelled", "failed"]


async def until_children_ended(client: httpx.AsyncClient, parent_id: str) -> list[dict[str, Any]]:
    for _ in range(100):
        listed = (await client.get("/api/v1/executions", params={"limit": 50})).json()
        children = [i for i in listed["items"] if i["parent_execution_id"] == parent_id]
        if children and all(
            child["status"] not in ("waiting", "queued", "running") for child in children
        ):
            return children
        await asyncio.sleep(0.1)
    raise AssertionError(f"children still going: {children}")


async def test_a_child_that_ended_while_nobody_could_resume_its_parent_is_settled_at_start(
    client: httpx.AsyncClient, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies between the child's end and its parent's resume (here: the child's
    end is not passed on): the next start's timer loop settles the parent's wait."""
    waits = server.parts.waits
    assert waits is not None
    parent = await parked(client, await stored(server, calling(await stored(server, asking()))))
    child_id = await child_waiting(client, parent)

    async def lost(child_id: str, parent_id: str) -> None:
        return None

    monkeypatch.setattr(waits, "child_ended", lost)
    await decide(client, child_id, decision="approve", data={"amount": 3})
    await until(client, child_id, ended, within_s=15)
    still = (await client.get(f"/api/v1/executions/{parent['execution_id']}")).json()
    assert still["status"] == "waiting"

    assert await waits.settle_all_children() == 1
    finished = await until(client, parent["execution_id"], ended, within_s=15)
    assert finished["status"] == "succeeded", finished
    assert finished["nodes"]["after"]["outputs"]["output"] == {"got": {"paid": 3}}
    assert await waits.settle_all_children() == 0


async def test_a_map_under_continue_lists_a_waiting_item_that_failed_in_item_order(
    client: httpx.AsyncClient, server: Server
) -> None:
    """Item 0 fails at once, item 1 waits and is rejected (its run then fails): both go on
    `errors` in item order, `null` in their places, item 2's output kept."""
    item = document(
        node("start", "trigger.manual"),
        node(
            "route",
            "core.switch",
            params={
                "value": "{{ ['first', 'second', 'third'][trigger.index] }}",
                "cases": ["first", "second"],
            },
        ),
        node("bad", "core.fail", params={"message": "bad item {{ trigger.item }}"}),
        node("ask", "core.wait", params={"mode": "approval", "fields": FORM}),
        node("refused", "core.fail", params={"message": "refused: {{ input.comment }}"}),
        node("out", "core.output", params={"value": "{{ trigger.item }}"}),
        links=(
            "start -> route",
            "route:first -> bad",
            "route:second -> ask",
            "ask:rejected -> refused",
            "route:default -> out",
        ),
        name="mixed",
    )
    mapper = document(
        node("start", "trigger.manual"),
        node(
            "each",
            "core.map",
            params={
                "items": [{"n": 1}, {"n": 2}, {"n": 3}],
                "workflow": await stored(server, item),
                "on_item_error": "continue",
            },
        ),
        node("out", "core.output", params={"value": "{{ nodes.each }}"}),
        links=("start -> each", "each -> out"),
        name="mapper",
    )
    parent = await parked(client, await stored(server, mapper))
    child_id = await child_waiting(client, parent)
    await decide(client, child_id, decision="reject", comment="no")
    finished = await until(client, parent["execution_id"], ended, within_s=15)
    assert finished["status"] == "succeeded", finished
    outputs = finished["nodes"]["each"]["outputs"]
    assert outputs["output"] == [None, None, {"n": 3}]
    assert [(e["index"], e["item"], e["type"]) for e in outputs["errors"]] == [
        (0, {"n": 1}, "subworkflow_failed"),
        (1, {"n": 2}, "subworkflow_failed"),
    ]
    assert "refused: no" in outputs["errors"][1]["message"]
