"""Saving a workflow checks that the server supplies every service its nodes require.

The server supplies them all, so a saved workflow is never refused for it; a server that
lacked one (stored files, here withdrawn by the test) refuses the save with the node named,
as it refuses an unknown type, rather than storing a workflow that fails when it runs.
"""

from __future__ import annotations

from dataclasses import replace

import httpx

from tav.app.server import Server
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.host import missing
from tests.api.workflow_builders import WORKFLOWS as API
from tests.helpers import document, node

EXPORT = document(
    node("start", "trigger.manual"), node("save", "export.csv"), links=("start -> save",)
)
MESSAGE = "needs stored files, which this host does not provide"


async def test_the_server_supplies_every_service_a_built_in_node_requires(
    server: Server, client: httpx.AsyncClient
) -> None:
    lacking = {
        node_type.spec.type: found
        for node_type in BUILTIN_NODE_TYPES
        if (found := missing(node_type.requires, server.parts.executor.services))
    }
    assert lacking == {}
    assert (await client.post(API, json=EXPORT)).status_code == 201


async def test_a_save_on_a_server_without_a_required_service_is_refused_with_the_node(
    server: Server, client: httpx.AsyncClient
) -> None:
    server.parts.executor.services = replace(server.parts.executor.services, files=None)
    response = await client.post(API, json=EXPORT)
    assert response.status_code == 422
    assert [(p["node"], p["field"], p["message"]) for p in response.json()["error"]["details"]] == [
        ("save", None, MESSAGE)
    ]
    report = (await client.post(f"{API}/validate", json=EXPORT)).json()
    assert report["valid"] is False
    assert [p["message"] for p in report["problems"]] == [MESSAGE]
    assert (await client.get(API)).json()["total"] == 0
