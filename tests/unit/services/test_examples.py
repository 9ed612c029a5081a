"""examples/order-notifications.json against a fake SMTP server, Slack and shop."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
from pytest_httpserver import HTTPServer

from tav.core.workflow import parse_workflow
from tav.engine.executor import Executor
from tav.nodes.registry import NodeRegistry
from tav.services import ServiceConfig, build_services
from tav.services.webhooks import verify
from tav.storage.files import FileStore
from tests.fakes.secrets import MemorySecrets
from tests.fakes.smtp import SmtpServer
from tests.helpers import run

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "order-notifications.json"


async def test_the_order_notifications_example(
    registry: NodeRegistry,
    config: ServiceConfig,
    http: httpx.AsyncClient,
    memory_secrets: MemorySecrets,
    file_store: FileStore,
    httpserver: HTTPServer,
):
    memory_secrets.add("slack-id", "slack", token="xoxb-1")
    memory_secrets.add("hmac-id", "hmac", secret="shop-secret")
    httpserver.expect_request("/slack/api/chat.postMessage").respond_with_json(
        {"ok": True, "channel": "C1", "ts": "1.0"}
    )
    httpserver.expect_request("/shop/hooks").respond_with_json({"ok": True})
    order = {"id": 7, "customer": "ada@example.org", "lines": [{"item": "bolt", "qty": 3}]}
    with SmtpServer() as smtp:
        memory_secrets.add("smtp-id", "smtp", **smtp.credential())
        executor = Executor(
            registry,
            services=replace(build_services(config, http), files=file_store),
            secrets=memory_secrets,
            vars={
                "smtp_credential": "smtp-id",
                "slack_credential": "slack-id",
                "hmac_credential": "hmac-id",
                "shop_webhook_url": httpserver.url_for("/shop/hooks"),
            },
        )
        wf = parse_workflow(json.loads(EXAMPLE.read_text()), structure=False)
        result = await run(executor, wf, order)

    assert result.status.value == "succeeded", result.error
    assert result.output["mailed_to"] == ["ada@example.org"]
    assert result.output["shop_status"] == 200
    (attachment,) = smtp.received[0].message.iter_attachments()
    assert attachment.get_filename() == "order-7.csv"
    assert attachment.get_payload(decode=True) == b"item,qty\r\nbolt,3\r\n"
    requests = {request.path: request for request, _ in httpserver.log}
    slack = requests["/slack/api/chat.postMessage"]
    assert json.loads(slack.get_data())["text"] == "Order 7: 1 lines for ada@example.org"
    shop = requests["/shop/hooks"]
    body = json.loads(shop.get_data())
    assert body["event"] == "order.announced"
    assert body["order"] == 7
    assert verify(
        "shop-secret",
        shop.get_data(),
        timestamp=shop.headers["X-TAV-Timestamp"],
        signature=shop.headers["X-TAV-Signature"],
    )
