"""Activating and deactivating workflows over HTTP: triggers armed at once, refused with
422 when there is nothing to arm, 409 when another workflow holds the webhook."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tav.app.root import build
from tav.app.server import Server
from tav.triggers import BUILTIN_KINDS, default_kinds
from tests.api.helpers import stored
from tests.api.triggers import manual_flow, webhook_flow
from tests.helpers import document, node

BASE = "/api/v1/workflows"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def _activate(client: httpx.AsyncClient, workflow_id: str) -> httpx.Response:
    return await client.post(f"{BASE}/{workflow_id}/activate")


async def test_activate_arms_and_deactivate_disarms(client: httpx.AsyncClient, server: Server):
    workflow_id = await stored(server, webhook_flow())
    response = await _activate(client, workflow_id)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True
    assert response.json()["version"] == 1
    assert (
        server.parts.triggers.webhooks.resolve("POST", "orders").target.workflow.id == workflow_id
    )
    assert (await client.get(f"{BASE}/{workflow_id}")).json()["active"] is True

    response = await client.post(f"{BASE}/{workflow_id}/deactivate")
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert len(server.parts.triggers.webhooks) == 0
    assert workflow_id not in server.parts.triggers.armed


async def test_a_workflow_with_only_a_manual_trigger_is_refused(
    client: httpx.AsyncClient, server: Server
):
    workflow_id = await stored(server, manual_flow())
    response = await _activate(client, workflow_id)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "activation_invalid"
    assert "no trigger to activate" in error["message"]
    assert [(p["code"], p["node"]) for p in error["details"]] == [("no_trigger", None)]
    assert (await client.get(f"{BASE}/{workflow_id}")).json()["active"] is False
    patched = await client.patch(f"{BASE}/{workflow_id}", json={"active": True})
    assert patched.status_code == 422


async def test_a_webhook_path_taken_by_another_workflow_is_a_409(
    client: httpx.AsyncClient, server: Server
):
    first = await stored(server, webhook_flow(name="first", methods=["POST", "GET"]))
    second = await stored(server, webhook_flow(name="second"))
    other_path = await stored(server, webhook_flow(path="other", name="third"))
    assert (await _activate(client, first)).status_code == 200

    response = await _activate(client, second)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "trigger_conflict"
    assert "'first'" in error["message"]
    assert error["details"]["workflow_id"] == first
    assert error["details"]["claim"] == "webhook POST /webhook/orders"
    assert (await _activate(client, other_path)).status_code == 200
    # Once the first lets go, the path is free.
    await client.post(f"{BASE}/{first}/deactivate")
    assert (await _activate(client, second)).status_code == 200


async def test_same_path_with_other_methods_is_no_clash(client: httpx.AsyncClient, server: Server):
    reader = await stored(server, webhook_flow(name="reader", methods=["GET"]))
    writer = await stored(server, webhook_flow(name="writer", methods=["POST"]))
    assert (await _activate(client, reader)).status_code == 200
    assert (await _activate(client, writer)).status_code == 200
    webhooks = server.parts.triggers.webhooks
    assert webhooks.resolve("GET", "orders").target.workflow.id == reader
    assert webhooks.resolve("POST", "orders").target.workflow.id == writer


async def test_updating_an_active_workflow_rearms_it(client: httpx.AsyncClient, server: Server):
    workflow_id = await stored(server, webhook_flow())
    assert (await _activate(client, workflow_id)).status_code == 200
    response = await client.put(f"{BASE}/{workflow_id}", json=webhook_flow(path="orders/v2"))
    assert response.status_code == 200, response.text
    webhooks = server.parts.triggers.webhooks
    assert webhooks.resolve("POST", "orders/v2").target.workflow.version == 2
    assert _refused(webhooks, "orders") == 404
    # A version that could not be active is refused; the armed one stays.
    response = await client.put(f"{BASE}/{workflow_id}", json=manual_flow())
    assert response.status_code == 422
    assert webhooks.resolve("POST", "orders/v2").target.workflow.version == 2


async def test_clash_is_checked_on_update_and_on_create(client: httpx.AsyncClient, server: Server):
    first = await stored(server, webhook_flow(name="first"))
    second = await stored(server, webhook_flow(path="elsewhere", name="second"))
    for workflow_id in (first, second):
        assert (await _activate(client, workflow_id)).status_code == 200
    response = await client.put(f"{BASE}/{second}", json=webhook_flow(name="second"))
    assert response.status_code == 409
    assert response.json()["error"]["details"]["workflow_id"] == first
    created = await client.post(f"{BASE}?active=true", json=webhook_flow(name="third"))
    assert created.status_code == 409
    created = await client.post(f"{BASE}?active=true", json=webhook_flow(path="new", name="new"))
    assert created.status_code == 201
    assert server.parts.triggers.webhooks.resolve("POST", "new").target.workflow.name == "new"


async def test_deleting_an_active_workflow_disarms_it(client: httpx.AsyncClient, server: Server):
    workflow_id = await stored(server, webhook_flow())
    assert (await _activate(client, workflow_id)).status_code == 200
    assert (await client.delete(f"{BASE}/{workflow_id}")).status_code == 204
    assert len(server.parts.triggers.webhooks) == 0


async def test_templates_and_bad_credentials_cannot_be_armed(
    client: httpx.AsyncClient, server: Server
):
    templated = document(
        node("hook", "trigger.webhook", params={"path": "{{ vars.path }}"}), name="templated"
    )
    workflow_id = await stored(server, templated)
    response = await _activate(client, workflow_id)
    assert response.status_code == 422
    (problem,) = response.json()["error"]["details"]
    assert (problem["code"], problem["node"]) == ("trigger_templated", "hook")

    missing = webhook_flow(auth="header", credential="nope")
    response = await _activate(client, await stored(server, missing))
    assert response.status_code == 422
    error = response.json()["error"]
    assert "no credential" in error["message"]
    (problem,) = error["details"]
    assert (problem["code"], problem["node"]) == ("credential_missing", "hook")

    made = await client.post(
        "/api/v1/credentials",
        json={"name": "login", "kind": "basic", "data": {"username": "u", "password": "p"}},
    )
    wrong = webhook_flow(auth="header", credential=made.json()["id"], path="wrong")
    response = await _activate(client, await stored(server, wrong))
    (problem,) = response.json()["error"]["details"]
    assert (problem["code"], problem["node"]) == ("credential_kind", "hook")


async def test_a_trigger_of_an_unknown_kind_is_refused_on_its_node(
    client: httpx.AsyncClient, server: Server
):
    triggers = server.parts.triggers
    triggers.kinds = default_kinds(
        triggers.webhooks, [s for s in BUILTIN_KINDS if s.name != "mqtt"]
    )
    flow = document(node("sensor", "trigger.mqtt", params={"topic": "t"}), name="sensor")

    response = await _activate(client, await stored(server, flow))

    assert response.status_code == 422
    (problem,) = response.json()["error"]["details"]
    assert (problem["code"], problem["node"]) == ("trigger_kind_unknown", "sensor")
    assert "'mqtt' is not known to this server" in problem["message"]


async def test_active_workflows_are_armed_again_at_start(server: Server):
    workflow_id = await stored(server, webhook_flow())
    await server.parts.triggers.activate(workflow_id)
    restarted = Server(build(server.settings, registry=server.parts.registry))
    await restarted.start(prune=False, resume=False)
    try:
        hook = restarted.parts.triggers.webhooks.resolve("POST", "orders")
        assert hook.target.workflow.id == workflow_id
    finally:
        await restarted.stop(timeout_s=0)


async def test_unknown_workflow_is_a_404(client: httpx.AsyncClient):
    response = await client.post(f"{BASE}/{'0' * 32}/activate")
    assert response.status_code == 404


def _refused(webhooks, path: str) -> int:
    from tav.triggers import WebhookError

    try:
        webhooks.resolve("POST", path)
    except WebhookError as exc:
        return exc.status
    return 200


@pytest.mark.parametrize(
    ("example", "kind"),
    [
        ("webhook-order.json", "webhook"),
        ("schedule-daily.json", "schedule"),
        ("mqtt-temperature.json", "mqtt"),
        ("email-inbox.json", "email"),
    ],
)
async def test_the_trigger_examples_can_be_activated(server: Server, example: str, kind: str):
    document = json.loads((EXAMPLES / example).read_text())
    activations, _ = server.parts.triggers.plan(document)
    assert [activation.kind for activation in activations] == [kind]


async def test_activation_needs_credentials(anonymous: httpx.AsyncClient, server: Server):
    workflow_id = await stored(server, webhook_flow())
    for action in ("activate", "deactivate"):
        response = await anonymous.post(f"{BASE}/{workflow_id}/{action}")
        assert response.status_code == 401
