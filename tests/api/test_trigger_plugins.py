"""A plugin adds a trigger node *and* the kind that arms it: one file on TAV_NODES_PATH,
found by discovery, armed when its workflow is activated over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tav.api.app import create_app
from tav.app.root import build
from tav.app.server import Server
from tav.settings import Settings
from tav.triggers import default_kinds
from tests.api.helpers import stored
from tests.helpers import document, node

PLUGINS = Path(__file__).resolve().parents[1] / "fakes" / "plugins"
"""A folder for TAV_NODES_PATH: ``tick.py`` has the ``acme.tick`` node and its kind."""


@pytest.fixture
async def plugin_server(tmp_path: Path) -> AsyncIterator[Server]:
    """A server (SQLite) whose node types and trigger kinds are discovered, with one
    plugin file on its TAV_NODES_PATH."""
    settings = Settings(data_dir=tmp_path / "data", nodes_path=[PLUGINS])
    server = Server(build(settings))
    await server.start(prune=False)
    yield server
    await server.stop(timeout_s=0)


@pytest.fixture
async def plugin_client(plugin_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    _, secret = await plugin_server.parts.auth.create_api_key("tests")
    app = create_app(plugin_server.settings, server=plugin_server)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://localhost", headers=headers
    ) as client:
        yield client


async def test_a_plugin_trigger_kind_is_armed_when_its_workflow_is_activated(
    plugin_server: Server, plugin_client: httpx.AsyncClient
):
    flow = document(
        node("tick", "acme.tick", params={"every_s": 0.01, "count": 2}),
        node("result", "core.output"),
        links=("tick -> result",),
        name="ticking",
    )
    workflow_id = await stored(plugin_server, flow)

    response = await plugin_client.post(f"/api/v1/workflows/{workflow_id}/activate")

    assert response.status_code == 200, response.text
    assert [a.kind for a in plugin_server.parts.triggers.armed[workflow_id].activations] == ["tick"]
    executions = await _executions(plugin_client, workflow_id, count=2)
    assert {e["mode"] for e in executions} == {"trigger"}
    outputs = []
    for execution in executions:
        detail = (await plugin_client.get(f"/api/v1/executions/{execution['execution_id']}")).json()
        outputs.append(detail["output"])
    assert sorted(o["tick"] for o in outputs) == [1, 2]


async def test_without_the_plugin_the_kind_is_refused_on_its_node(
    plugin_server: Server, plugin_client: httpx.AsyncClient
):
    triggers = plugin_server.parts.triggers
    triggers.kinds = default_kinds(triggers.webhooks)  # the built-ins: a host without the kind
    flow = document(node("tick", "acme.tick"), name="ticking")
    workflow_id = await stored(plugin_server, flow)

    response = await plugin_client.post(f"/api/v1/workflows/{workflow_id}/activate")

    assert response.status_code == 422
    (problem,) = response.json()["error"]["details"]
    assert (problem["code"], problem["node"]) == ("trigger_kind_unknown", "tick")


async def _executions(
    client: httpx.AsyncClient, workflow_id: str, count: int
) -> list[dict[str, object]]:
    async with asyncio.timeout(10):
        while True:
            page = (await client.get(f"/api/v1/executions?workflow_id={workflow_id}")).json()
            done = [e for e in page["items"] if e["status"] == "succeeded"]
            if len(done) >= count:
                return done
            await asyncio.sleep(0.02)
