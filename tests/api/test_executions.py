"""Executions over HTTP: run, list, get, cancel, retry, delete, run from a node."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tav.api.schemas.executions import ExecutionPublic
from tests.api.helpers import chain, ended, run_to_end, start, stored, until
from tests.helpers import RESULT_KEYS, document, node

EXTRA_KEYS = {"workflow_id", "workflow_version", "mode", "parent_execution_id", "input"}
NODE_KEYS = {"status", "attempts", "outputs", "error", "started_at", "finished_at", "duration_ms"}
UNKNOWN = "0" * 32


# -- auth and bad input ---------------------------------------------------------------


ROUTES = [
    ("POST", f"/api/v1/workflows/{UNKNOWN}/run"),
    ("GET", f"/api/v1/executions/{UNKNOWN}"),
    ("DELETE", f"/api/v1/executions/{UNKNOWN}"),
    ("POST", f"/api/v1/executions/{UNKNOWN}/cancel"),
    ("POST", f"/api/v1/executions/{UNKNOWN}/retry"),
    ("GET", f"/api/v1/executions/{UNKNOWN}/stream"),
]


async def test_every_execution_route_needs_credentials(anonymous):
    for method, path in [("GET", "/api/v1/executions"), *ROUTES]:
        response = await anonymous.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthorized"


async def test_unknown_ids_are_404(client):
    for method, path in ROUTES:
        response = await client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"
    assert (await client.get("/api/v1/executions/nope")).status_code == 404


async def test_bad_requests_are_422_not_500(client, server):
    workflow_id = await stored(server, chain(0))
    execution_id = (await run_to_end(client, workflow_id))["execution_id"]
    run = f"/api/v1/workflows/{workflow_id}/run"
    bad = [
        client.post(run, json={"inputs": 1}),
        client.post(run, json={"start_at": "d1"}),
        client.post(run, json=[1, 2]),
        client.post(run, content=b"{not json", headers={"Content-Type": "application/json"}),
        client.post(f"{run}?wait=maybe"),
        client.post("/api/v1/workflows/bad%00id/run"),
        client.get("/api/v1/executions?status=done"),
        client.get("/api/v1/executions?limit=0"),
        client.get("/api/v1/executions?offset=-1"),
        client.get("/api/v1/executions?offset=99999999999999999999"),
        client.get("/api/v1/executions/%00"),
        client.get(f"/api/v1/executions/{'a' * 65}"),
        client.get(f"/api/v1/executions/{execution_id}/stream", headers={"Last-Event-ID": "x"}),
        client.get(f"/api/v1/executions/{execution_id}/stream?after=-1"),
    ]
    for response in await asyncio.gather(*bad):
        assert response.status_code == 422, (response.request.url, response.text)
        assert response.json()["error"]["code"] == "request_invalid"


async def test_a_stored_workflow_that_cannot_run_is_422_with_its_problems(client, server):
    workflow_id = await stored(server, document(node("x", "core.nope")))
    response = await client.post(f"/api/v1/workflows/{workflow_id}/run")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "workflow_invalid"
    assert response.json()["error"]["details"][0]["node"] == "x"


# -- run and get ------------------------------------------------------------------------


async def test_run_answers_at_once_and_the_execution_goes_on(client, server):
    workflow_id = await stored(server, chain(0.2))
    execution_id = await start(client, workflow_id, input={"n": 1})
    execution = await until(client, execution_id, ended)
    assert execution["status"] == "succeeded"
    assert execution["output"] == {"n": 1}
    assert execution["mode"] == "api"
    assert execution["workflow_id"] == workflow_id
    assert execution["workflow_version"] == 1


async def test_run_without_a_body_runs_with_no_input(client, server):
    workflow_id = await stored(server, chain(0))
    response = await client.post(f"/api/v1/workflows/{workflow_id}/run?wait=true")
    assert response.status_code == 200
    assert response.json()["input"] is None
    assert response.json()["status"] == "succeeded"


async def test_wait_answers_with_the_execution_exactly_as_get_returns_it(client, server):
    workflow_id = await stored(server, chain(0, 0))
    result = await run_to_end(client, workflow_id, input={"name": "Ada"})
    assert set(result) == RESULT_KEYS | EXTRA_KEYS
    assert result["status"] == "succeeded"
    assert result["input"] == {"name": "Ada"}
    assert result["output"] == {"name": "Ada"}
    assert set(result["nodes"]) == {"start", "d1", "d2", "result"}
    for settled in result["nodes"].values():
        assert set(settled) == NODE_KEYS
        assert settled["status"] == "succeeded"
        assert settled["attempts"] == 1
    again = await client.get(f"/api/v1/executions/{result['execution_id']}")
    assert again.status_code == 200
    assert again.json() == result


async def test_a_failed_node_shows_its_error_and_attempts(client, server):
    doc = document(
        node("start", "trigger.manual"),
        node("boom", "test.raise", params={"message": "kaput"}),
        links=("start -> boom",),
    )
    result = await run_to_end(client, await stored(server, doc))
    assert result["status"] == "failed"
    assert "kaput" in result["error"]["message"]
    failed = result["nodes"]["boom"]
    assert failed["status"] == "failed"
    assert failed["attempts"] == 1
    assert failed["error"]["type"] == "exception"
    assert failed["finished_at"] is not None


async def test_a_running_execution_shows_what_has_settled_so_far(client, server):
    workflow_id = await stored(server, chain(30))
    execution_id = await start(client, workflow_id)
    execution = await until(client, execution_id, lambda e: "start" in e["nodes"])
    assert execution["status"] == "running"
    assert execution["nodes"]["start"]["status"] == "succeeded"
    assert "d1" not in execution["nodes"]
    assert execution["finished_at"] is None
    await client.post(f"/api/v1/executions/{execution_id}/cancel")


# -- listing ----------------------------------------------------------------------------


async def test_listing_filters_by_workflow_and_status_and_pages_newest_first(client, server):
    first = await stored(server, chain(0, name="first"))
    failing = await stored(
        server, document(node("start", "trigger.manual"), node("boom", "test.raise"), name="x")
    )
    ids = [
        (await run_to_end(client, first))["execution_id"],
        (await run_to_end(client, failing))["execution_id"],
        (await run_to_end(client, first))["execution_id"],
    ]
    everything = (await client.get("/api/v1/executions")).json()
    assert everything["total"] == 3
    assert [e["execution_id"] for e in everything["items"]] == ids[::-1]
    assert (everything["limit"], everything["offset"]) == (50, 0)
    assert everything["items"][0]["workflow"] == "first"
    assert "nodes" not in everything["items"][0]

    of_first = (await client.get("/api/v1/executions", params={"workflow_id": first})).json()
    assert [e["execution_id"] for e in of_first["items"]] == [ids[2], ids[0]]
    failed = (await client.get("/api/v1/executions", params={"status": "failed"})).json()
    assert [e["execution_id"] for e in failed["items"]] == [ids[1]]
    assert failed["items"][0]["error"]["type"] == "exception"
    both = {"workflow_id": first, "status": "failed"}
    assert (await client.get("/api/v1/executions", params=both)).json()["total"] == 0

    page = (await client.get("/api/v1/executions", params={"limit": 1, "offset": 1})).json()
    assert page == {**page, "total": 3, "limit": 1, "offset": 1}
    assert [e["execution_id"] for e in page["items"]] == [ids[1]]
    beyond = (await client.get("/api/v1/executions", params={"offset": 10})).json()
    assert beyond["items"] == []
    assert beyond["total"] == 3


# -- delete -----------------------------------------------------------------------------


async def test_delete_removes_a_finished_execution_but_not_a_running_one(client, server):
    workflow_id = await stored(server, chain(30))
    running = await start(client, workflow_id)
    conflict = await client.delete(f"/api/v1/executions/{running}")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    await client.post(f"/api/v1/executions/{running}/cancel?wait=true")

    assert (await client.delete(f"/api/v1/executions/{running}")).status_code == 204
    assert (await client.get(f"/api/v1/executions/{running}")).status_code == 404
    assert (await client.delete(f"/api/v1/executions/{running}")).status_code == 404
    assert (await client.get("/api/v1/executions")).json()["total"] == 0


async def test_deleting_an_execution_deletes_the_sub_workflow_executions_it_started(client, server):
    inner = await stored(server, document(node("echo", "core.output"), name="inner"))
    middle = await stored(
        server,
        document(node("call", "core.subworkflow", params={"workflow": inner}), name="middle"),
    )
    outer = await stored(
        server,
        document(node("call", "core.subworkflow", params={"workflow": middle}), name="outer"),
    )
    answered = await client.post(f"/api/v1/workflows/{outer}/run?wait=true", json={"input": 1})
    assert answered.json()["status"] == "succeeded", answered.text
    await server.parts.writer.flush()
    listed = (await client.get("/api/v1/executions")).json()
    assert listed["total"] == 3

    response = await client.delete(f"/api/v1/executions/{answered.json()['execution_id']}")

    assert response.status_code == 204
    assert (await client.get("/api/v1/executions")).json()["total"] == 0
    for item in listed["items"]:
        assert (await client.get(f"/api/v1/executions/{item['execution_id']}")).status_code == 404


# -- cancel -----------------------------------------------------------------------------


async def test_cancel_stops_a_running_delay_promptly(client, server):
    workflow_id = await stored(server, chain(60, 60))
    execution_id = await start(client, workflow_id)
    await until(client, execution_id, lambda e: e["status"] == "running")
    clock = time.perf_counter()
    response = await client.post(f"/api/v1/executions/{execution_id}/cancel")
    assert response.status_code == 202
    assert response.json() == {"execution_id": execution_id}
    execution = await until(client, execution_id, ended, within_s=5)
    assert time.perf_counter() - clock < 3
    assert execution["status"] == "cancelled"
    assert execution["error"]["type"] == "cancelled"
    assert execution["nodes"]["d1"]["status"] == "cancelled"
    assert execution["nodes"]["d2"]["status"] == "cancelled"
    assert execution["nodes"]["start"]["status"] == "succeeded"


async def test_cancel_with_wait_answers_with_the_cancelled_execution(client, server):
    execution_id = await start(client, await stored(server, chain(60)))
    response = await client.post(f"/api/v1/executions/{execution_id}/cancel?wait=true")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json() == (await client.get(f"/api/v1/executions/{execution_id}")).json()


async def test_a_finished_execution_cannot_be_cancelled(client, server):
    result = await run_to_end(client, await stored(server, chain(0)))
    response = await client.post(f"/api/v1/executions/{result['execution_id']}/cancel")
    assert response.status_code == 409
    assert "succeeded" in response.json()["error"]["message"]


# -- retry ------------------------------------------------------------------------------


def flaky_workflow() -> dict[str, Any]:
    """``flaky`` fails as many first attempts as the global variable ``fails`` says."""
    return document(
        node("start", "trigger.manual"),
        node("before", "core.set", params={"values": {"seen": "{{ trigger.n }}"}}),
        node("flaky", "test.flaky", params={"fail_attempts": "{{ vars.fails }}"}),
        node("after", "core.output"),
        links=("start -> before", "before -> flaky", "flaky -> after"),
        name="flaky",
    )


async def test_retry_reruns_the_failed_nodes_and_reuses_what_succeeded(client, server):
    await server.parts.variables.put("fails", 1)
    workflow_id = await stored(server, flaky_workflow())
    failed = await run_to_end(client, workflow_id, input={"n": 7})
    assert failed["status"] == "failed"
    assert failed["nodes"]["flaky"]["status"] == "failed"

    await server.parts.variables.put("fails", 0)
    response = await client.post(f"/api/v1/executions/{failed['execution_id']}/retry?wait=true")
    assert response.status_code == 200
    retried = response.json()
    assert retried["execution_id"] != failed["execution_id"]
    assert retried["mode"] == "retry"
    assert retried["retry_of"] == failed["execution_id"]
    assert "retry_of" not in failed
    (listed,) = [
        item
        for item in (await client.get("/api/v1/executions")).json()["items"]
        if item["execution_id"] == retried["execution_id"]
    ]
    assert listed["retry_of"] == failed["execution_id"]
    assert (retried["workflow_id"], retried["workflow_version"]) == (workflow_id, 1)
    assert retried["input"] == {"n": 7}
    assert retried["status"] == "succeeded"
    nodes = retried["nodes"]
    assert nodes["before"]["reused"] is True
    assert nodes["before"]["started_at"] == failed["nodes"]["before"]["started_at"]
    assert "reused" not in nodes["flaky"]
    assert "reused" not in nodes["after"]
    assert retried["output"] == {"attempt": 1, "input": {"seen": 7}}
    assert retried == (await client.get(f"/api/v1/executions/{retried['execution_id']}")).json()
    # the original is left as it was
    original = (await client.get(f"/api/v1/executions/{failed['execution_id']}")).json()
    assert original == failed


async def test_retry_runs_the_version_the_execution_ran(client, server):
    await server.parts.variables.put("fails", 1)
    workflow_id = await stored(server, flaky_workflow())
    failed = await run_to_end(client, workflow_id, input={"n": 1})
    assert failed["nodes"]["flaky"]["status"] == "failed"
    await server.parts.workflows.update(workflow_id, chain(0, name="changed"))
    await server.parts.variables.put("fails", 0)
    execution_id = (await client.post(f"/api/v1/executions/{failed['execution_id']}/retry")).json()[
        "execution_id"
    ]
    retried = await until(client, execution_id, ended)
    assert retried["status"] == "succeeded"
    assert retried["workflow"] == "flaky"
    assert retried["workflow_version"] == 1


async def test_retry_of_a_cancelled_execution_runs_the_unfinished_nodes(client, server):
    doc = document(
        node("start", "trigger.manual"),
        node("quick", "core.set", params={"values": {"v": 1}}),
        node("slow", "core.delay", params={"seconds": "{{ vars.seconds }}"}),
        links=("start -> quick", "quick -> slow"),
    )
    await server.parts.variables.put("seconds", 60)
    execution_id = await start(client, await stored(server, doc))
    await until(client, execution_id, lambda e: "quick" in e["nodes"])
    await client.post(f"/api/v1/executions/{execution_id}/cancel?wait=true")
    await server.parts.variables.put("seconds", 0)
    response = await client.post(f"/api/v1/executions/{execution_id}/retry?wait=true")
    retried = response.json()
    assert retried["status"] == "succeeded"
    assert retried["nodes"]["quick"]["reused"] is True
    assert retried["nodes"]["slow"]["status"] == "succeeded"


async def test_only_failed_or_cancelled_executions_can_be_retried(client, server):
    succeeded = await run_to_end(client, await stored(server, chain(0)))
    response = await client.post(f"/api/v1/executions/{succeeded['execution_id']}/retry")
    assert response.status_code == 409
    assert "succeeded" in response.json()["error"]["message"]

    running = await start(client, await stored(server, chain(60)))
    response = await client.post(f"/api/v1/executions/{running}/retry")
    assert response.status_code == 409
    assert "running" in response.json()["error"]["message"]
    await client.post(f"/api/v1/executions/{running}/cancel")


async def test_retry_needs_the_workflow_it_ran(client, server):
    doc = document(node("start", "trigger.manual"), node("boom", "test.raise"))
    workflow_id = await stored(server, doc)
    failed = await run_to_end(client, workflow_id)
    await server.parts.workflows.delete(workflow_id)
    response = await client.post(f"/api/v1/executions/{failed['execution_id']}/retry")
    assert response.status_code == 409


# -- run from a node --------------------------------------------------------------------


def three_steps() -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("a", "core.set", params={"values": {"a": "{{ trigger.x }}"}}),
        node("b", "core.set", params={"values": {"b": "{{ input.a }}"}, "keep_input": True}),
        node("c", "core.output"),
        links=("start -> a", "a -> b", "b -> c"),
        name="steps",
    )


async def test_run_from_a_node_reuses_upstream_outputs_and_reruns_downstream(client, server):
    workflow_id = await stored(server, three_steps())
    first = await run_to_end(client, workflow_id, input={"x": 1})
    second = await run_to_end(
        client, workflow_id, from_execution=first["execution_id"], start_at=["b"]
    )
    assert second["status"] == "succeeded"
    nodes = second["nodes"]
    assert nodes["start"]["reused"] is True
    assert nodes["a"]["reused"] is True
    assert nodes["a"]["outputs"] == first["nodes"]["a"]["outputs"]
    assert "reused" not in nodes["b"]
    assert "reused" not in nodes["c"]
    assert nodes["b"]["started_at"] > first["nodes"]["c"]["finished_at"]
    assert second["input"] == {"x": 1}
    assert second["output"] == {"a": 1, "b": 1}


async def test_run_from_a_node_with_new_input_keeps_reused_outputs(client, server):
    workflow_id = await stored(server, three_steps())
    first = await run_to_end(client, workflow_id, input={"x": 1})
    second = await run_to_end(
        client,
        workflow_id,
        input={"x": 2},
        from_execution=first["execution_id"],
        start_at=["c"],
    )
    assert second["input"] == {"x": 2}
    assert second["output"] == {"a": 1, "b": 1}
    assert second["nodes"]["b"]["reused"] is True


async def test_run_from_a_node_checks_its_execution_and_nodes(client, server):
    workflow_id = await stored(server, three_steps())
    other_id = await stored(server, chain(0))
    first = await run_to_end(client, workflow_id, input={"x": 1})
    run = f"/api/v1/workflows/{workflow_id}/run"

    unknown = await client.post(run, json={"from_execution": UNKNOWN, "start_at": ["b"]})
    assert unknown.status_code == 404

    nodes = await client.post(
        run, json={"from_execution": first["execution_id"], "start_at": ["b", "zz", "yy"]}
    )
    assert nodes.status_code == 422
    assert nodes.json()["error"]["code"] == "input_invalid"
    assert "'yy', 'zz'" in nodes.json()["error"]["message"]

    alone = await client.post(run, json={"start_at": ["b"]})
    assert alone.status_code == 422
    assert "from_execution" in alone.json()["error"]["message"]

    elsewhere = await client.post(
        f"/api/v1/workflows/{other_id}/run", json={"from_execution": first["execution_id"]}
    )
    assert elsewhere.status_code == 422
    assert (await client.get("/api/v1/executions")).json()["total"] == 1


async def test_token_usage_is_kept_per_node_and_summed(client, server):
    doc = document(
        node("a", "test.usage", params={"input_tokens": 10, "output_tokens": 3}),
        node("b", "test.usage", params={"input_tokens": 5, "output_tokens": 2}),
        node("c"),
        links=("a -> b", "b -> c"),
    )
    workflow_id = await stored(server, doc)
    answered = await client.post(f"/api/v1/workflows/{workflow_id}/run?wait=true", json={})
    assert answered.status_code == 200, answered.text
    execution_id = answered.json()["execution_id"]
    await server.parts.writer.flush()
    got = await client.get(f"/api/v1/executions/{execution_id}")
    for result in (answered.json(), got.json()):
        assert result["usage"] == {"input_tokens": 15, "output_tokens": 5, "total_tokens": 20}
        assert result["nodes"]["a"]["usage"]["total_tokens"] == 13
        assert "usage" not in result["nodes"]["c"]


async def test_execution_answers_are_exactly_what_their_response_model_documents(client, server):
    """Executions are serialised straight from their record, not through the response
    model: each answer must still be what ``ExecutionPublic`` validates and gives back."""
    doc = document(
        node("a", "test.usage", params={"input_tokens": 2, "output_tokens": 1}),
        node("boom", "test.raise", params={"message": "kaput"}, on_error="continue"),
        node("c"),
        links=("a -> boom", "a -> c"),
    )
    answered = await client.post(
        f"/api/v1/workflows/{await stored(server, doc)}/run?wait=true", json={"input": [1]}
    )
    assert answered.status_code == 200, answered.text
    got = await client.get(f"/api/v1/executions/{answered.json()['execution_id']}")
    for data in (answered.json(), got.json()):
        model = ExecutionPublic.model_validate(data)
        assert model.model_dump(mode="json", exclude_unset=True) == data
    assert answered.json() == got.json()


async def test_an_input_holding_a_number_json_cannot_hold_is_refused(client, server):
    workflow_id = await stored(server, document(node("start", "trigger.manual")))
    for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
        body = '{"input": {"rows": [1, {"price": ' + literal + "}]}}"
        response = await client.post(
            f"/api/v1/workflows/{workflow_id}/run",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 422, (literal, response.text)
        error = response.json()["error"]
        assert error["code"] == "request_invalid"
        assert error["details"][0]["location"] == "body.input.rows.1.price"
        assert "is not a JSON number" in error["details"][0]["message"]
    listed = await client.get("/api/v1/executions", params={"workflow_id": workflow_id})
    assert listed.json()["total"] == 0
