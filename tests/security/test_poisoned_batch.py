"""One execution that cannot be stored never costs anyone else theirs.

Many executions share one commit of the writer. Each scenario sends one poisoned request
among 60 ordinary ones, all at once, and checks that the ordinary ones all answer without
a 5xx, and are all stored and settled; the poisoned one fails alone (or is refused), with
an error that says where. The poisons: a webhook body nested 253 deep, a template value
that is not JSON data (``namespace()``), and a service answering JSON with a lone
surrogate (``"\\ud800"``).

Also: ``?wait=true``, ``when_done`` webhooks and ``tav run`` never report success for a
run whose updates could not be stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tav.app.server import Server
from tav.cli.app import app
from tav.storage import writer
from tests.api.helpers import stored
from tests.api.triggers import http_server, webhook_flow
from tests.helpers import document, node

ORDINARY = 60
TERMINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture
async def web(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the server over real HTTP (uvicorn on 127.0.0.1), with no API key."""
    async with http_server(server) as url, httpx.AsyncClient(base_url=url, timeout=30) as web:
        yield web


async def test_a_deep_webhook_body_is_refused_and_costs_no_one_else(
    server: Server,
    web: httpx.AsyncClient,
):
    workflow_id = await stored(server, webhook_flow())
    await server.parts.triggers.activate(workflow_id)
    deep = b"[" * 253 + b"]" * 253  # 506 bytes
    poisoned = web.post("/webhook/orders", content=deep, headers=_JSON)
    ordinary = [web.post("/webhook/orders", json={"n": n}) for n in range(ORDINARY)]
    refused, *answers = await asyncio.gather(poisoned, *ordinary)

    await _all_stored_and_settled(server, answers)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "request_invalid"
    assert error["details"][0]["location"].startswith("body.0.0.0")
    assert "nested deeper than 64 levels" in error["details"][0]["message"]


async def test_a_webhook_body_too_deep_to_parse_is_a_400_not_a_500(
    server: Server,
    web: httpx.AsyncClient,
):
    workflow_id = await stored(server, webhook_flow())
    await server.parts.triggers.activate(workflow_id)
    response = await web.post("/webhook/orders", content=b"[" * 100_000, headers=_JSON)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == "the body is nested too deeply"
    surrogate = await web.post("/webhook/orders", content=b'{"x": "\\ud800"}', headers=_JSON)
    assert surrogate.status_code == 422, surrogate.text
    assert surrogate.json()["error"]["details"][0]["location"].startswith("body")
    assert (await server.parts.executions.find(workflow_id=workflow_id))[1] == 0


async def test_a_template_value_that_is_not_json_fails_its_node_alone(
    server: Server,
    client: httpx.AsyncClient,
):
    poison = await stored(server, _set_flow("{{ namespace(a=1) }}", name="poison"))
    ordinary = await stored(server, _set_flow("{{ trigger.n }}", name="ordinary"))
    poisoned, answers = await _alongside(client, poison, ordinary)

    assert poisoned.status_code == 202, poisoned.text
    execution = await _settled(server, poisoned.json()["execution_id"])
    assert execution["status"] == "failed"
    assert execution["nodes"]["shape"]["status"] == "failed"
    assert "node 'shape'" in execution["error"]["message"]
    await _all_stored_and_settled(server, answers)


async def test_a_service_answering_a_lone_surrogate_fails_its_node_alone(
    server: Server,
    client: httpx.AsyncClient,
):
    async with _answering(b'{"x": "\\ud800"}') as url:
        fetch = node("fetch", "core.http_request", params={"url": url})
        flow = document(node("start", "trigger.manual"), fetch, links=("start -> fetch",))
        poison = await stored(server, flow)
        ordinary = await stored(server, _set_flow("{{ trigger.n }}", name="ordinary"))
        poisoned, answers = await _alongside(client, poison, ordinary)
        assert poisoned.status_code == 202, poisoned.text
        # (The service answers until the run has ended: its request may not have gone out
        # when the 202 came back.)
        execution = await _settled(server, poisoned.json()["execution_id"])

    assert execution["status"] == "failed"
    error = execution["nodes"]["fetch"]["error"]
    assert error["type"] == "output_invalid"
    assert "lone surrogate" in error["message"]
    assert error["message"].endswith("at output.body.x")
    assert "node 'fetch'" in execution["error"]["message"]
    await _all_stored_and_settled(server, answers)


async def test_a_wait_run_whose_updates_cannot_be_stored_is_not_answered_200(
    server: Server,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
):
    """The run is recorded in an earlier batch (it waits first); the batch with its end
    fails. It answers 500 ``not_stored``; the stored execution says it failed, and why."""
    doomed = await stored(server, _slow_flow(name="doomed"))
    fine = await stored(server, _slow_flow(name="fine"))
    _fail_the_end_of(monkeypatch, "doomed")
    wait = "?wait=true"
    answer, other = await asyncio.gather(
        client.post(f"/api/v1/workflows/{doomed}/run{wait}", json={"input": {}}),
        client.post(f"/api/v1/workflows/{fine}/run{wait}", json={"input": {}}),
    )
    assert answer.status_code == 500, answer.text
    error = answer.json()["error"]
    assert error["code"] == "not_stored"
    assert other.status_code == 200, other.text
    assert other.json()["status"] == "succeeded"
    execution_id = error["details"]["execution_id"]
    record = await server.parts.executions.get(execution_id)
    assert record is not None
    assert record.status.value == "failed"
    assert record.error is not None
    assert "could not be stored" in record.error.message
    shown = await client.get(f"/api/v1/executions/{execution_id}")
    assert shown.status_code == 200
    assert shown.json()["status"] == "failed"


async def test_a_when_done_webhook_whose_run_cannot_be_stored_is_not_answered_200(
    server: Server,
    web: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
):
    flow = document(
        node("hook", "trigger.webhook", params={"path": "orders", "respond": "when_done"}),
        node("wait", "core.delay", params={"seconds": 0.2}),
        node("result", "core.output"),
        links=("hook -> wait", "wait -> result"),
        name="doomed",
    )
    workflow_id = await stored(server, flow)
    await server.parts.triggers.activate(workflow_id)
    _fail_the_end_of(monkeypatch, "doomed")
    response = await web.post("/webhook/orders", json={"item": "tea"})
    assert response.status_code == 500, response.text
    assert response.json()["error"]["code"] == "not_stored"


# -- helpers ------------------------------------------------------------------------------

_JSON = {"content-type": "application/json"}


def _set_flow(value: str, *, name: str) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("shape", "core.set", params={"values": {"x": value}}),
        node("result", "core.output"),
        links=("start -> shape", "shape -> result"),
        name=name,
    )


def _slow_flow(*, name: str) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 0.2}),
        node("result", "core.output"),
        links=("start -> wait", "wait -> result"),
        name=name,
    )


def _fail_the_end_of(monkeypatch: pytest.MonkeyPatch, workflow: str) -> None:
    """The result of executions of ``workflow`` cannot be written, as if a database
    refused it: whatever the cause, its batch's commit fails."""
    blob = writer._result_blob

    def failing(result: Any, events: Any) -> bytes:
        if result.workflow == workflow:
            raise ValueError("refused by the database")
        return blob(result, events)

    monkeypatch.setattr(writer, "_result_blob", failing)


async def _alongside(
    client: httpx.AsyncClient,
    poison: str,
    ordinary: str,
) -> tuple[httpx.Response, list[httpx.Response]]:
    """Start ``poison`` once among ``ORDINARY`` runs of ``ordinary``, all at once."""
    runs: list[Awaitable[httpx.Response]] = [
        client.post(f"/api/v1/workflows/{ordinary}/run", json={"input": {"n": n}})
        for n in range(ORDINARY)
    ]
    runs.insert(ORDINARY // 2, client.post(f"/api/v1/workflows/{poison}/run", json={}))
    answers = await asyncio.gather(*runs)
    poisoned = answers.pop(ORDINARY // 2)
    return poisoned, answers


async def _all_stored_and_settled(server: Server, answers: list[httpx.Response]) -> None:
    assert [a.status_code for a in answers] == [202] * len(answers), [
        a.text for a in answers if a.status_code != 202
    ]
    for answer in answers:
        execution = await _settled(server, answer.json()["execution_id"])
        assert execution["status"] == "succeeded", execution


async def _settled(server: Server, execution_id: str) -> dict[str, Any]:
    """The execution as stored once it has ended (it must be stored, and end)."""
    async with asyncio.timeout(20):
        while True:
            handle = server.parts.executions_service.running.get(execution_id)
            if handle is not None:
                await handle.wait()
            await server.parts.writer.flush()
            record = await server.parts.executions.get(execution_id)
            assert record is not None, f"execution {execution_id} is not stored"
            if record.status.value in TERMINAL:
                return dict(record.to_json())
            await asyncio.sleep(0.01)


@asynccontextmanager
async def _answering(body: bytes) -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 answering every request with ``body`` as JSON."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    listening = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/data"
    finally:
        listening.close()
        await listening.wait_closed()


def test_tav_run_fails_when_its_execution_could_not_be_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TAV_DATA_DIR", str(tmp_path / "data"))
    _fail_the_end_of(monkeypatch, "doomed")
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(_slow_flow(name="doomed")))
    result = CliRunner().invoke(app, ["run", str(flow), "--json"])
    assert result.exit_code == 1, result.output
    assert "could not be stored" in result.stderr
