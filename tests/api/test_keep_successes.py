"""What is kept of successful executions, over HTTP: the workflow's
``settings.keep_successes`` and the runtime setting of the same name; what a run answers
and what the API shows afterwards; failures always kept in full."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tav.core.events import utcnow
from tav.settings import Settings
from tests.api.helpers import chain, run_to_end
from tests.api.test_durable_writer import restart
from tests.api.triggers import http_server
from tests.helpers import document, node

SETTINGS = "/api/v1/settings"
COUNT = {"keep_successes": "count"}


def flow(keep: str | None = None, *, fail: bool = False, name: str = "keep") -> dict[str, Any]:
    """start -> shape (core.set, or test.raise) -> result."""
    shape = (
        node("shape", "test.raise", params={"message": "no"})
        if fail
        else node("shape", "core.set", params={"values": {"got": "{{ trigger.n }}"}})
    )
    extra = {"settings": {"keep_successes": keep}} if keep else {}
    return document(
        node("start", "trigger.manual"),
        shape,
        node("result", "core.output"),
        links=("start -> shape", "shape -> result"),
        name=name,
        **extra,
    )


async def _create(client: httpx.AsyncClient, doc: dict[str, Any]) -> str:
    response = await client.post("/api/v1/workflows", json=doc)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _page(client: httpx.AsyncClient, workflow_id: str | None = None) -> dict[str, Any]:
    params = {"workflow_id": workflow_id} if workflow_id else {}
    response = await client.get("/api/v1/executions", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_runtime_setting_is_shown_changed_and_checked(client: httpx.AsyncClient):
    assert (await client.get(SETTINGS)).json()["keep_successes"] == "all"
    changed = await client.put(SETTINGS, json={"keep_successes": "count"})
    assert changed.status_code == 200
    assert changed.json()["keep_successes"] == "count"
    assert (await client.get(SETTINGS)).json()["keep_successes"] == "count"
    refused = await client.put(SETTINGS, json={"keep_successes": "some"})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["location"] == "body.keep_successes"


async def test_a_workflow_setting_out_of_range_is_a_located_problem(client: httpx.AsyncClient):
    response = await client.post("/api/v1/workflows", json=flow("most"))
    assert response.status_code == 422
    problems = response.json()["error"]["details"]
    assert [p["field"] for p in problems] == ["settings.keep_successes"]


async def test_a_count_run_answers_with_its_output_and_is_only_counted(
    client: httpx.AsyncClient,
):
    workflow_id = await _create(client, flow("count"))
    first = await run_to_end(client, workflow_id, input={"n": 1})
    second = await run_to_end(client, workflow_id, input={"n": 2})

    assert first["status"] == "succeeded"
    assert first["output"] == {"got": 1}
    assert first["nodes"]["shape"]["outputs"] == {"output": {"got": 1}}
    assert first["kept"] == "count"
    missing = await client.get(f"/api/v1/executions/{first['execution_id']}")
    assert missing.status_code == 404
    page = await _page(client, workflow_id)
    assert (page["items"], page["total"], page["successes_not_kept"]) == ([], 0, 2)
    assert page["last_success_not_kept_at"] >= second["started_at"]
    assert (await _page(client))["successes_not_kept"] == 2


async def test_a_summary_run_is_listed_with_its_input_but_no_output_or_nodes(
    client: httpx.AsyncClient,
):
    workflow_id = await _create(client, flow("summary"))
    answer = await run_to_end(client, workflow_id, input={"n": 3})
    assert (answer["output"], answer["kept"]) == ({"got": 3}, "summary")

    stored = (await client.get(f"/api/v1/executions/{answer['execution_id']}")).json()
    assert stored["status"] == "succeeded"
    assert stored["input"] == {"n": 3}
    assert (stored["output"], stored["nodes"], stored["kept"]) == (None, {}, "summary")
    assert stored["finished_at"] is not None
    page = await _page(client, workflow_id)
    assert [item["execution_id"] for item in page["items"]] == [answer["execution_id"]]
    assert page["successes_not_kept"] == 0


async def test_a_failure_of_a_workflow_that_keeps_nothing_is_stored_in_full(
    client: httpx.AsyncClient,
):
    workflow_id = await _create(client, flow("count", fail=True))
    response = await client.post(
        f"/api/v1/workflows/{workflow_id}/run?wait=true", json={"input": {"n": 4}}
    )
    answer = response.json()
    assert answer["status"] == "failed"
    assert "kept" not in answer

    stored = (await client.get(f"/api/v1/executions/{answer['execution_id']}")).json()
    assert stored["status"] == "failed"
    assert stored["input"] == {"n": 4}
    assert stored["nodes"]["shape"]["error"]["message"] == "RuntimeError: no"
    assert stored["nodes"]["start"]["status"] == "succeeded"
    stream = await client.get(f"/api/v1/executions/{answer['execution_id']}/stream")
    assert "event: node.failed" in stream.text
    assert "event: execution.failed" in stream.text
    assert (await _page(client, workflow_id))["successes_not_kept"] == 0


async def test_the_runtime_setting_is_the_default_and_a_workflow_setting_wins(
    client: httpx.AsyncClient,
):
    await client.put(SETTINGS, json={"keep_successes": "count"})
    silent = await _create(client, flow(name="silent"))
    kept = await _create(client, flow("all", name="kept"))

    dropped = await run_to_end(client, silent, input={"n": 5})
    stored = await run_to_end(client, kept, input={"n": 6})

    assert dropped["kept"] == "count"
    assert "kept" not in stored
    assert (await client.get(f"/api/v1/executions/{dropped['execution_id']}")).status_code == 404
    again = (await client.get(f"/api/v1/executions/{stored['execution_id']}")).json()
    assert again["output"] == {"got": 6}


async def test_a_run_from_the_editor_is_kept_in_full(client: httpx.AsyncClient):
    workflow_id = await _create(client, flow("count"))
    answer = await run_to_end(client, workflow_id, input={"n": 7}, mode="editor")

    assert "kept" not in answer
    stored = (await client.get(f"/api/v1/executions/{answer['execution_id']}")).json()
    assert stored["output"] == {"got": 7}
    assert stored["mode"] == "editor"


@pytest.fixture
async def web(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the server's HTTP address (uvicorn), with no API key."""
    async with http_server(server) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


async def test_a_webhook_that_keeps_a_count_answers_with_the_output(
    client: httpx.AsyncClient, web: httpx.AsyncClient, server: Server
):
    doc = document(
        node("hook", "trigger.webhook", params={"path": "count", "respond": "when_done"}),
        node("result", "core.output", params={"value": "{{ trigger.body }}"}),
        links=("hook -> result",),
        name="hook",
        settings={"keep_successes": "count"},
    )
    response = await client.post("/api/v1/workflows?active=true", json=doc)
    assert response.status_code == 201, response.text
    workflow_id = response.json()["id"]

    for n in range(3):
        answer = await web.post("/webhook/count", json={"n": n})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"n": n}
    execution_id = answer.headers["x-tav-execution-id"]
    assert (await client.get(f"/api/v1/executions/{execution_id}")).status_code == 404
    page = await _page(client, workflow_id)
    assert (page["total"], page["successes_not_kept"]) == (0, 3)


@pytest.fixture
async def later() -> AsyncIterator[list[Server]]:
    """Servers started later on the same database (as after a restart); stopped at the end."""
    started: list[Server] = []
    yield started
    for server in started:
        await server.stop(timeout_s=0)


async def test_a_count_execution_cut_off_by_a_restart_runs_again_from_its_start(
    server: Server, settings: Settings, later: list[Server]
):
    # d2 runs long enough to be cut off however slow the machine is (it was 0.6 s: a
    # loaded machine could finish the run before the stop).
    stored = await server.parts.workflows.create({**chain(0, 2, 0), "settings": COUNT})
    executions = server.parts.executions_service
    started = await executions.start(stored.id, {"n": 1})
    await started.recorded  # it ran past the grace: recorded as running, without nodes
    running = await server.parts.executions.get(started.handle.execution_id)
    assert running is not None
    assert (running.status.value, running.nodes, running.last_seq) == ("running", {}, 0)
    assert not started.handle.done()
    await server.stop(timeout_s=0)  # as if killed while d2 runs: nothing of it is stored
    stopped = utcnow()

    again = await restart(settings, later)
    handle = again.parts.executions_service.running[started.handle.execution_id]
    result = await handle.wait()
    assert result.status.value == "succeeded"
    assert len(result.nodes) == 5
    assert all(n.started_at and n.started_at >= stopped for n in result.nodes.values())  # all ran
    await again.parts.writer.flush()
    assert await again.parts.executions.get(handle.execution_id) is None
    assert await again.parts.executions.not_kept(stored.id) == (1, result.finished_at)
