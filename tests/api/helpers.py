"""Starting and following executions over HTTP in API tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import httpx

from tav.app.server import Server
from tests.helpers import document, node


def chain(*delays: float, name: str = "chain") -> dict[str, Any]:
    """trigger -> d1 -> d2 ... (core.delay nodes) -> result."""
    ids = [f"d{i}" for i in range(1, len(delays) + 1)]
    nodes = [node("start", "trigger.manual")]
    nodes += [
        node(i, "core.delay", params={"seconds": s}) for i, s in zip(ids, delays, strict=True)
    ]
    nodes.append(node("result", "core.output"))
    path = ["start", *ids, "result"]
    links = tuple(f"{a} -> {b}" for a, b in itertools.pairwise(path))
    return document(*nodes, links=links, name=name)


async def stored(server: Server, doc: dict[str, Any]) -> str:
    return (await server.parts.workflows.create(doc)).id


async def start(client: httpx.AsyncClient, workflow_id: str, **body: Any) -> str:
    response = await client.post(f"/api/v1/workflows/{workflow_id}/run", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


async def run_to_end(client: httpx.AsyncClient, workflow_id: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/api/v1/workflows/{workflow_id}/run?wait=true", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def parked(client: httpx.AsyncClient, workflow_id: str, **body: Any) -> dict[str, Any]:
    """Run it; the answer of ?wait=true comes once it waits (which it must)."""
    execution = await run_to_end(client, workflow_id, **body)
    assert execution["status"] == "waiting", execution
    return execution


async def until(
    client: httpx.AsyncClient,
    execution_id: str,
    check: Callable[[dict[str, Any]], bool],
    within_s: float = 10,
) -> dict[str, Any]:
    """GET the execution until ``check(execution)`` holds."""
    async with asyncio.timeout(within_s):
        while True:
            execution = (await client.get(f"/api/v1/executions/{execution_id}")).json()
            if check(execution):
                return dict(execution)
            await asyncio.sleep(0.02)


def ended(execution: dict[str, Any]) -> bool:
    return execution["status"] in {"succeeded", "failed", "cancelled"}
