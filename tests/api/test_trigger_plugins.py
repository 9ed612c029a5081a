"""A plugin adds a trigger node *and* the kind that arms it: one file on TAV_NODES_PATH,
found by discovery, armed when its workflow is activated over HTTP."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tav.api.app import create_app
from tav.server import Server
from tav.settings import Settings
from tav.triggers import default_kinds
from tests.api.helpers import stored
from tests.helpers import document, node

TICK = '''
import asyncio
from typing import Any

from pydantic import BaseModel, Field

from tav.core.modes import ExecutionMode
from tav.nodes import Node, NodeSpec, Port
from tav.nodes.capabilities import TriggerCapability
from tav.triggers import TriggerKindSpec
from tav.triggers.base import Background


class TickParams(BaseModel):
    every_s: float = Field(0.01, gt=0)
    count: int = Field(2, ge=1)


class TickTrigger(TriggerCapability, Node):
    """Starts the workflow `count` times, every `every_s` seconds, once activated."""

    spec = NodeSpec(type="acme.tick", title="Tick", category="triggers")
    Params = TickParams
    outputs = {"output": Port("{tick: n}")}
    trigger_kind = "tick"


class Ticking(Background):
    def __init__(self, target, config, host):
        super().__init__(f"tick {target.workflow.name}")
        self.target, self.config, self.host = target, config, host

    async def body(self):
        for n in range(1, self.config.count + 1):
            await asyncio.sleep(self.config.every_s)
            await self.target.launch(self.host, {"tick": n}, ExecutionMode.TRIGGER)


class TickKind:
    def parse(self, activation: Any) -> TickParams:
        return TickParams.model_validate({k: v for k, v in activation.items() if k != "kind"})

    def claims(self, config: TickParams) -> frozenset[str]:
        return frozenset()

    async def check(self, config: TickParams, host: Any) -> None:
        return None

    def arm(self, target: Any, config: TickParams, host: Any) -> Ticking:
        return Ticking(target, config, host)


TICK_KIND = TriggerKindSpec("tick", "tick", lambda setup: TickKind())
'''


@pytest.fixture
async def plugin_server(tmp_path: Path) -> AsyncIterator[Server]:
    """A server (SQLite) whose node types and trigger kinds are discovered, with one
    plugin file on its TAV_NODES_PATH."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "tick.py").write_text(textwrap.dedent(TICK))
    settings = Settings(data_dir=tmp_path / "data", nodes_path=[folder])
    server = Server(settings)
    await server.start(prune=False)
    yield server
    await server.stop(timeout_s=0)


@pytest.fixture
async def plugin_client(plugin_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    _, secret = await plugin_server.auth.create_api_key("tests")
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
    assert [a.kind for a in plugin_server.triggers.armed[workflow_id].activations] == ["tick"]
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
    triggers = plugin_server.triggers
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
