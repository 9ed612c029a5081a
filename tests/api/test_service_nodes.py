"""Service nodes through the server: credentials from the vault, base URLs from settings."""

from __future__ import annotations

import json

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tav.app.server import Server
from tav.services.webhooks import verify
from tav.settings import Settings
from tests.api.helpers import run_to_end, stored
from tests.helpers import document, node


@pytest.fixture
def httpserver(httpserver_ipv4: HTTPServer) -> HTTPServer:
    return httpserver_ipv4


@pytest.fixture
def settings(settings: Settings, httpserver: HTTPServer) -> Settings:
    return settings.model_copy(update={"slack_api_url": httpserver.url_for("/slack/api")})


async def credential(client: httpx.AsyncClient, kind: str, **data: str) -> str:
    response = await client.post(
        "/api/v1/credentials", json={"name": f"{kind} test", "kind": kind, "data": data}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_slack_and_a_signed_webhook_from_one_workflow(
    client: httpx.AsyncClient, server: Server, httpserver: HTTPServer
):
    slack = await credential(client, "slack", token="xoxb-vault-token")
    hook = await credential(client, "hmac", secret="vault-hmac-secret")
    httpserver.expect_request(
        "/slack/api/chat.postMessage",
        headers={"Authorization": "Bearer xoxb-vault-token"},
        json={"channel": "C1", "text": "order 7 shipped"},
    ).respond_with_json({"ok": True, "channel": "C1", "ts": "1.1"})
    httpserver.expect_request("/hook", method="POST").respond_with_json(
        {"echo": "xoxb-vault-token"}
    )
    workflow_id = await stored(
        server,
        document(
            node("start", "trigger.manual"),
            node(
                "slack",
                "slack.post_message",
                params={
                    "credential": slack,
                    "channel": "C1",
                    "text": "order {{ trigger.id }} shipped",
                },
            ),
            node(
                "hook",
                "webhook.send",
                params={"url": httpserver.url_for("/hook"), "credential": hook},
            ),
            links=("start -> slack", "slack -> hook"),
        ),
    )

    execution = await run_to_end(client, workflow_id, input={"id": 7})

    assert execution["status"] == "succeeded", execution
    assert execution["nodes"]["slack"]["outputs"]["output"]["ts"] == "1.1"
    request, _ = httpserver.log[-1]
    assert json.loads(request.get_data()) == {"channel": "C1", "ts": "1.1", "message": None}
    assert verify(
        "vault-hmac-secret",
        request.get_data(),
        timestamp=request.headers["X-TAV-Timestamp"],
        signature=request.headers["X-TAV-Signature"],
    )
    everything = json.dumps(execution)
    assert "xoxb-vault-token" not in everything  # the echoed token is redacted
    assert "vault-hmac-secret" not in everything
