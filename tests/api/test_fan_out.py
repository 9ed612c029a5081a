"""Lists inside one node over HTTP: ``core.map`` (inline runs or separate executions) and
the list form of ``core.http_request``, started by the API and by a webhook."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tests.api.helpers import ended, run_to_end, start, stored, until
from tests.api.triggers import http_server
from tests.fakes.slow_http import SlowHttp, serving
from tests.helpers import document, node


@pytest.fixture
async def upstream() -> AsyncIterator[SlowHttp]:
    async with serving(SlowHttp(delay_s=0.05)) as app:
        yield app


def doubler() -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("check", "core.if", params={"condition": "{{ trigger.item < 0 }}"}),
        node("refuse", "core.fail", params={"message": "negative: {{ trigger.item }}"}),
        node("out", "core.output", params={"value": "{{ trigger.item * 2 }}"}),
        links=("start -> check", "check:true -> refuse", "check:false -> out"),
        name="double",
    )


def mapper(child: str, **params: Any) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("each", "core.map", params={"items": "{{ trigger }}", "workflow": child, **params}),
        node("out", "core.output"),
        links=("start -> each", "each -> out"),
        name="mapper",
    )


async def listed(client: httpx.AsyncClient, server: Server) -> list[dict[str, Any]]:
    await server.parts.writer.flush()
    return list((await client.get("/api/v1/executions?limit=100")).json()["items"])


async def test_a_map_keeps_its_runs_inside_the_parent_execution(client, server):
    child = await stored(server, doubler())
    parent = await stored(server, mapper(child, on_item_error="continue"))

    result = await run_to_end(client, parent, input=[1, -2, 3])

    assert result["status"] == "succeeded", result
    assert result["output"] == [2, None, 6]
    executions = await listed(client, server)
    assert [e["execution_id"] for e in executions] == [result["execution_id"]]
    kept = (await client.get(f"/api/v1/executions/{result['execution_id']}")).json()
    outputs = kept["nodes"]["each"]["outputs"]
    assert outputs["output"] == [2, None, 6]
    [failure] = outputs["errors"]
    assert (failure["index"], failure["item"], failure["type"]) == (1, -2, "subworkflow_failed")
    assert "negative: -2" in failure["message"]


async def test_a_map_with_separate_executions_lists_each_run_under_its_parent(client, server):
    child = await stored(server, doubler())
    parent = await stored(server, mapper(child, separate_executions=True))

    result = await run_to_end(client, parent, input=[1, 2])

    assert result["output"] == [2, 4]
    children = [
        e for e in await listed(client, server) if e["execution_id"] != result["execution_id"]
    ]
    assert len(children) == 2
    for summary in children:
        execution = (await client.get(f"/api/v1/executions/{summary['execution_id']}")).json()
        assert execution["parent_execution_id"] == result["execution_id"]
        assert execution["mode"] == "subworkflow"


async def test_a_failing_item_fails_the_map_and_the_execution_says_which(client, server):
    child = await stored(server, doubler())
    parent = await stored(server, mapper(child))

    result = await run_to_end(client, parent, input=[1, -2, 3])

    assert result["status"] == "failed"
    error = result["nodes"]["each"]["error"]
    assert error["type"] == "subworkflow_failed"
    assert error["message"].startswith("item 1: sub-workflow 'double' failed: ")
    assert "item 1" in result["error"]["message"]


async def test_cancelling_the_parent_stops_its_inline_runs_promptly(client, server):
    child = await stored(
        server,
        document(
            node("start", "trigger.manual"),
            node("wait", "core.delay", params={"seconds": 60}),
            links=("start -> wait",),
            name="slow",
        ),
    )
    parent = await stored(server, mapper(child))
    execution_id = await start(client, parent, input=[1, 2, 3])
    await until(client, execution_id, lambda e: e["nodes"].get("start") is not None)

    clock = time.perf_counter()
    response = await client.post(f"/api/v1/executions/{execution_id}/cancel?wait=true")

    assert response.status_code == 200, response.text
    assert time.perf_counter() - clock < 3
    execution = response.json()
    assert execution["status"] == "cancelled"
    assert execution["nodes"]["each"]["status"] == "cancelled"
    assert len(await listed(client, server)) == 1


def fan_out_hook(path: str, fetch: dict[str, Any]) -> dict[str, Any]:
    """webhook (answers when done) -> ``fetch`` -> output."""
    return document(
        node("hook", "trigger.webhook", params={"path": path, "respond": "when_done"}),
        fetch,
        node("out", "core.output"),
        links=(f"hook -> {fetch['id']}", f"{fetch['id']} -> out"),
        name=path,
    )


async def test_a_webhook_fans_out_through_the_list_form_and_through_a_map(
    server: Server, upstream: SlowHttp
):
    child = await stored(
        server,
        document(
            node("start", "trigger.manual"),
            node("get", "core.http_request", params={"url": "{{ trigger.item }}"}),
            node("out", "core.output", params={"value": "{{ nodes.get.output.body.path }}"}),
            links=("start -> get", "get -> out"),
            name="get one",
        ),
    )
    urls = [f"{upstream.url}/item/{i}" for i in range(20)]
    listing = node(
        "get",
        "core.http_request",
        params={"requests": "{{ trigger.body.urls }}", "concurrency": 20},
    )
    mapping = node(
        "get",
        "core.map",
        params={"items": "{{ trigger.body.urls }}", "workflow": child, "concurrency": 20},
    )
    for path, fetch in (("listed", listing), ("mapped", mapping)):
        workflow_id = await stored(server, fan_out_hook(path, fetch))
        await server.parts.triggers.activate(workflow_id)

    async with http_server(server) as url, httpx.AsyncClient(base_url=url, timeout=10) as web:
        responses = {
            path: await web.post(f"/webhook/{path}", json={"urls": urls})
            for path in ("listed", "mapped")
        }

    for response in responses.values():
        assert response.status_code == 200, response.text
    expected = [f"/item/{i}" for i in range(20)]
    assert [r["body"]["path"] for r in responses["listed"].json()] == expected
    assert responses["mapped"].json() == expected
    assert upstream.most_held == 20
    for response in responses.values():
        execution = await server.parts.executions.get(response.headers["x-tav-execution-id"])
        assert execution is not None
        assert ended(execution.to_json())
