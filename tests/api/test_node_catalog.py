"""The node catalog over HTTP, with a node type that cannot be loaded on this host: it is
listed with its error (never a 500), and a workflow using it gets a located problem."""

from __future__ import annotations

import httpx

from tav.app.server import Server
from tav.nodes.modules import NodeModule
from tests.helpers import document, node

MISSING = "ModuleNotFoundError: No module named 'tav_no_such_node_module'"


def _break(server: Server) -> None:
    server.parts.registry.add_module(NodeModule("tav_no_such_node_module", ("acme.broken",)))


async def test_the_catalog_lists_a_type_that_cannot_be_loaded_with_its_error(
    client: httpx.AsyncClient, server: Server
):
    _break(server)

    response = await client.get("/api/v1/nodes")

    assert response.status_code == 200, response.text
    entries = {entry["type"]: entry for entry in response.json()}
    assert entries["acme.broken"]["available"] is False
    assert entries["acme.broken"]["error"] == MISSING
    assert entries["core.noop"]["available"] is True
    one = await client.get("/api/v1/nodes/acme.broken")
    assert one.status_code == 200
    assert one.json() == entries["acme.broken"]


async def test_a_workflow_using_it_is_refused_with_a_located_problem(
    client: httpx.AsyncClient, server: Server
):
    _break(server)
    flow = document(
        node("start", "trigger.manual"), node("x", "acme.broken"), links=("start -> x",)
    )

    validated = await client.post("/api/v1/workflows/validate", json=flow)
    created = await client.post("/api/v1/workflows", json=flow)

    (problem,) = validated.json()["problems"]
    assert (problem["node"], problem["field"]) == ("x", "type")
    assert problem["message"] == f"type 'acme.broken' could not be loaded: {MISSING}"
    assert created.status_code == 422
    assert created.json()["error"]["details"] == [problem]
