"""Webhooks over a real HTTP server (uvicorn on 127.0.0.1): both response modes, the
payload, authentication, rate limit, body size, 404 and 405."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tests.api.helpers import ended, stored
from tests.api.triggers import http_server, webhook_flow
from tests.helpers import document, node

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
async def web(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the server's HTTP address, with no API key."""
    async with http_server(server) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


async def _active(server: Server, doc: dict[str, Any]) -> str:
    workflow_id = await stored(server, doc)
    await server.parts.triggers.activate(workflow_id)
    return workflow_id


async def _execution(server: Server, execution_id: str) -> dict[str, Any]:
    """The execution as stored, once it has ended."""
    for _ in range(500):
        await server.parts.writer.flush()
        record = await server.parts.executions.get(execution_id)
        if record is not None and ended(record.to_json()):
            return dict(record.to_json())
        await asyncio.sleep(0.01)
    raise AssertionError("the execution did not end")


async def test_immediately_answers_202_and_the_run_gets_the_request(
    web: httpx.AsyncClient, server: Server
):
    await _active(server, webhook_flow())
    response = await web.post(
        "/webhook/orders?id=7&tag=a&tag=b", json={"item": "tea"}, headers={"X-Shop": "one"}
    )
    assert response.status_code == 202, response.text
    execution = await _execution(server, response.json()["execution_id"])
    assert execution["status"] == "succeeded"
    assert execution["mode"] == "webhook"
    payload = execution["input"]
    assert payload["method"] == "POST"
    assert payload["path"] == "/webhook/orders"
    assert payload["query"] == {"id": "7", "tag": ["a", "b"]}
    assert payload["headers"]["x-shop"] == "one"
    assert payload["body"] == {"item": "tea"}
    assert execution["output"] == {"got": {"item": "tea"}}


async def test_when_done_answers_with_the_output(web: httpx.AsyncClient, server: Server):
    await _active(server, webhook_flow(respond="when_done"))
    response = await web.post("/webhook/orders", data={"item": "tea", "n": "2"})
    assert response.status_code == 200, response.text
    assert response.json() == {"got": {"item": "tea", "n": "2"}}
    execution_id = response.headers["x-tav-execution-id"]
    stored_execution = await server.parts.executions.get(execution_id)
    assert stored_execution is not None
    assert stored_execution.status.value == "succeeded"  # stored before answered
    text = await web.post("/webhook/orders", content=b"plain words")
    assert text.json() == {"got": "plain words"}


async def test_when_done_custom_status_headers_and_body(web: httpx.AsyncClient, server: Server):
    doc = document(
        node(
            "hook",
            "trigger.webhook",
            params={
                "path": "custom",
                "methods": ["GET"],
                "respond": "when_done",
                "response": "custom",
            },
        ),
        node(
            "result",
            "core.output",
            params={
                "value": {
                    "status": 201,
                    "headers": {"X-Thing": "{{ trigger.query.q }}"},
                    "body": "made",
                }
            },
        ),
        links=("hook -> result",),
    )
    await _active(server, doc)
    response = await web.get("/webhook/custom?q=yes")
    assert response.status_code == 201
    assert response.headers["x-thing"] == "yes"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "made"


async def test_failed_and_slow_runs(web: httpx.AsyncClient, server: Server):
    failing = document(
        node("hook", "trigger.webhook", params={"path": "fails", "respond": "when_done"}),
        node("boom", "core.fail", params={"message": "no stock"}),
        links=("hook -> boom",),
    )
    slow = document(
        node(
            "hook",
            "trigger.webhook",
            params={"path": "slow", "respond": "when_done", "timeout_s": 0.2},
        ),
        node("wait", "core.delay", params={"seconds": 1}),
        links=("hook -> wait",),
    )
    await _active(server, failing)
    await _active(server, slow)
    response = await web.post("/webhook/fails")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "execution_failed"
    assert "no stock" in response.json()["error"]["message"]
    response = await web.post("/webhook/slow")
    assert response.status_code == 504
    execution = await _execution(server, response.json()["error"]["details"]["execution_id"])
    assert execution["status"] == "succeeded"  # it went on


async def test_unknown_path_is_404_and_unlisted_method_405(web: httpx.AsyncClient, server: Server):
    await _active(server, webhook_flow(methods=["POST", "PUT"]))
    response = await web.post("/webhook/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = await web.delete("/webhook/orders")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST, PUT"
    assert (await web.put("/webhook/orders", json={})).status_code == 202


async def test_oversized_bodies_are_413(web: httpx.AsyncClient, server: Server):
    await _active(server, webhook_flow(max_body_bytes=100))
    response = await web.post("/webhook/orders", content=b"x" * 101)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read and counted
        for _ in range(5):
            yield b"y" * 30

    response = await web.post("/webhook/orders", content=chunks())
    assert response.status_code == 413
    assert (await web.post("/webhook/orders", content=b"x" * 100)).status_code == 202


async def test_rate_limit_is_429_with_retry_after(web: httpx.AsyncClient, server: Server):
    await _active(server, webhook_flow(rate_limit_per_minute=2))
    assert (await web.post("/webhook/orders")).status_code == 202
    assert (await web.post("/webhook/orders")).status_code == 202
    response = await web.post("/webhook/orders")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 30


async def test_bearer_token(web: httpx.AsyncClient, server: Server):
    credential = await server.parts.credentials.create("hook", "bearer", {"token": "s3cret-token"})
    await _active(server, webhook_flow(auth="header", credential=credential.id))
    missing = await web.post("/webhook/orders")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = await web.post("/webhook/orders", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = await web.post(
        "/webhook/orders", json={"a": 1}, headers={"Authorization": "Bearer s3cret-token"}
    )
    assert right.status_code == 202
    execution = await _execution(server, right.json()["execution_id"])
    assert "authorization" not in execution["input"]["headers"]


async def test_api_key_header(web: httpx.AsyncClient, server: Server):
    credential = await server.parts.credentials.create("hook", "api_key", {"api_key": "k-123"})
    await _active(
        server, webhook_flow(auth="header", credential=credential.id, auth_header="X-Hook-Key")
    )
    assert (await web.post("/webhook/orders", headers={"X-Hook-Key": "k-12"})).status_code == 401
    right = await web.post("/webhook/orders", headers={"X-Hook-Key": "k-123"})
    assert right.status_code == 202
    execution = await _execution(server, right.json()["execution_id"])
    assert "x-hook-key" not in execution["input"]["headers"]


async def test_basic_auth(web: httpx.AsyncClient, server: Server):
    data = {"username": "shop", "password": "pa:ss"}
    credential = await server.parts.credentials.create("hook", "basic", data)
    await _active(server, webhook_flow(auth="basic", credential=credential.id))
    wrong = await web.post("/webhook/orders", auth=("shop", "nope"))
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Basic")
    garbage = await web.post("/webhook/orders", headers={"Authorization": "Basic %%%"})
    assert garbage.status_code == 401
    encoded = base64.b64encode(b"shop:pa:ss").decode()
    right = await web.post("/webhook/orders", headers={"Authorization": f"Basic {encoded}"})
    assert right.status_code == 202


async def test_deactivated_webhooks_are_gone_at_once(web: httpx.AsyncClient, server: Server):
    workflow_id = await _active(server, webhook_flow())
    assert (await web.post("/webhook/orders")).status_code == 202
    await server.parts.triggers.deactivate(workflow_id)
    assert (await web.post("/webhook/orders")).status_code == 404


async def test_only_the_firing_triggers_branch_runs(web: httpx.AsyncClient, server: Server):
    doc = document(
        node("hook", "trigger.webhook", params={"path": "both", "respond": "when_done"}),
        node("start", "trigger.manual"),
        node("from_hook", "core.set", params={"values": {"via": "webhook"}}),
        node("from_hand", "core.set", params={"values": {"via": "hand"}}),
        node("result", "core.merge"),
        links=(
            "hook -> from_hook",
            "start -> from_hand",
            "from_hook -> result",
            "from_hand -> result",
        ),
    )
    await _active(server, doc)
    response = await web.post("/webhook/both")
    assert response.status_code == 200
    execution = await _execution(server, response.headers["x-tav-execution-id"])
    nodes = {node_id: result["status"] for node_id, result in execution["nodes"].items()}
    assert nodes["start"] == "skipped"
    assert nodes["from_hand"] == "skipped"
    assert nodes["from_hook"] == "succeeded"


async def test_webhooks_need_no_api_key_but_the_api_does(web: httpx.AsyncClient, server: Server):
    await _active(server, webhook_flow())
    assert (await web.get("/api/v1/workflows")).status_code == 401
    assert (await web.post("/webhook/orders")).status_code == 202


async def test_the_webhook_example(web: httpx.AsyncClient, server: Server):
    document = json.loads((EXAMPLES / "webhook-order.json").read_text())
    await _active(server, document)
    accepted = await web.post("/webhook/orders", json={"id": 7, "lines": ["tea", "milk"]})
    assert accepted.status_code == 201
    assert accepted.json() == {"order": 7, "lines": 2, "accepted": True}
    rejected = await web.post("/webhook/orders", json={"id": 8})
    assert rejected.status_code == 422
    assert rejected.json()["accepted"] is False


async def test_a_deleted_credential_is_a_500_not_an_open_door(
    web: httpx.AsyncClient, server: Server
):
    credential = await server.parts.credentials.create("hook", "bearer", {"token": "t0ken"})
    await _active(server, webhook_flow(auth="header", credential=credential.id))
    await server.parts.credentials.delete(credential.id)
    response = await web.post("/webhook/orders", headers={"Authorization": "Bearer t0ken"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "webhook_misconfigured"


async def test_headers_that_carry_secrets_are_not_part_of_the_run(
    web: httpx.AsyncClient, server: Server
):
    await _active(server, webhook_flow())
    secrets = {"X-Api-Key": "k-caller", "X-Auth-Token": "t-caller", "Cookie": "s=1"}
    response = await web.post("/webhook/orders", json={}, headers={**secrets, "X-Trace": "7"})
    assert response.status_code == 202
    execution = await _execution(server, response.json()["execution_id"])
    headers = execution["input"]["headers"]
    assert headers["x-trace"] == "7"
    assert not {"x-api-key", "x-auth-token", "cookie"} & set(headers)
