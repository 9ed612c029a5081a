"""The MCP server in queue mode, with real processes: two ``tav serve`` over PostgreSQL and
Redis and a ``tav worker``. A tool call through one API process runs on the worker and
answers its output, with the worker's nodes as progress; the other process answers MCP
requests that no session opened there (stateless HTTP: any process answers any
request)."""

from __future__ import annotations

import json

import httpx2
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.api.test_mcp import order_flow
from tests.integration.queue.cluster import Cluster

ACCEPT = {"Accept": "application/json, text/event-stream"}


def _results(stream: str) -> list[dict[str, object]]:
    """The JSON-RPC messages of an SSE response body."""
    return [
        json.loads(line.removeprefix("data:").strip())
        for line in stream.splitlines()
        if line.startswith("data:") and line.removeprefix("data:").strip()
    ]


async def test_a_tool_call_runs_on_a_worker_and_any_api_process_answers(cluster: Cluster):
    await cluster.store_workflow(order_flow())
    await cluster.worker()
    _, first = await cluster.serve()
    _, second = await cluster.serve()
    heard: list[str | None] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        heard.append(message)

    async with (
        first,
        second,
        httpx2.AsyncClient(headers=cluster.headers, timeout=60) as http,
        streamable_http_client(f"{first.base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool(
            "place_order", {"item": "tea", "quantity": 2}, progress_callback=progress
        )
        call = {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {"name": "place_order", "arguments": {"item": "cake", "quantity": 1}},
        }
        elsewhere = await second.post("/mcp", json=call, headers=ACCEPT)
    assert not result.is_error, result
    assert result.structured_content == {"ordered": "tea", "count": 2}
    execution_id = str(result.meta["tav/execution_id"]) if result.meta else ""
    assert await cluster.column(execution_id, "worker") is not None  # a worker ran it
    assert await cluster.column(execution_id, "mode") == "mcp"
    assert "node 'result' finished" in heard
    assert elsewhere.status_code == 200, elsewhere.text
    [answer] = [m for m in _results(elsewhere.text) if m.get("id") == 7]
    called = types.CallToolResult.model_validate(answer["result"])
    assert not called.is_error
    assert called.structured_content == {"ordered": "cake", "count": 1}
