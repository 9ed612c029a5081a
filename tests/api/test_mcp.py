"""The MCP server at /mcp, driven by the official SDK's client over streamable HTTP against
a real uvicorn server on 127.0.0.1, on SQLite and PostgreSQL: the offered workflows as
tools, calls that succeed, fail, get bad arguments or wait, and keys missing or wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tav.app.server import Server
from tav.core.roles import Role
from tests.api.helpers import stored
from tests.api.team import make_team
from tests.api.triggers import http_server
from tests.helpers import document, node

ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "item": {"type": "string", "description": "What to order."},
        "quantity": {"type": "integer", "minimum": 1},
    },
    "required": ["item", "quantity"],
}


def order_flow(tool: str = "place_order") -> dict[str, Any]:
    """start -> shape {ordered: item, count: quantity} -> result (the workflow's output)."""
    return document(
        node("start", "trigger.manual"),
        node(
            "shape",
            "core.set",
            params={"values": {"ordered": "{{ trigger.item }}", "count": "{{ trigger.quantity }}"}},
        ),
        node("result", "core.output"),
        links=("start -> shape", "shape -> result"),
        name="Place an order",
        description="Places an order for an item.",
        input_schema=ORDER_SCHEMA,
        mcp={"name": tool},
    )


def failing_flow() -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("charge", "test.raise", params={"message": "card declined"}),
        links=("start -> charge",),
        name="Charge",
        description="Charges a card.",
        mcp={"name": "charge"},
    )


def approval_flow() -> dict[str, Any]:
    """start -> note (the link, computed ahead) -> ask (an approval) -> paid."""
    return document(
        node("start", "trigger.manual"),
        node("note", "core.set", params={"values": {"link": "{{ execution.resume_url('ask') }}"}}),
        node("ask", "core.wait", params={"mode": "approval", "title": "Pay the invoice?"}),
        node("paid", "core.set", params={"values": {"paid": True}}),
        links=("start -> note", "note -> ask", "ask:approved -> paid"),
        name="invoice",
        mcp={"name": "pay_invoice"},
    )


@pytest.fixture
async def key(server: Server) -> str:
    _, secret = await server.parts.auth.create_api_key("mcp client")
    return secret


@asynccontextmanager
async def connected(base: str, key: str | None) -> AsyncIterator[ClientSession]:
    """The SDK's client session to ``base``/mcp, sending ``key`` as a Bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def test_the_offered_workflows_are_listed_as_tools_with_their_schemas(
    server: Server, key: str
) -> None:
    await stored(server, order_flow())
    await stored(server, failing_flow())
    await stored(server, document(node("start", "trigger.manual"), name="not offered"))
    async with http_server(server) as base, connected(base, key) as session:
        listed = await session.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    assert sorted(tools) == ["charge", "place_order"]
    assert tools["place_order"].description == "Places an order for an item."
    assert tools["place_order"].title == "Place an order"
    assert tools["place_order"].input_schema == ORDER_SCHEMA
    assert tools["charge"].input_schema == {"type": "object"}  # it declares none


async def test_a_call_runs_the_workflow_and_returns_its_output_with_progress(
    server: Server, key: str
) -> None:
    await stored(server, order_flow())
    progress: list[tuple[float, float | None, str | None]] = []

    async def heard(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async with http_server(server) as base, connected(base, key) as session:
        result = await session.call_tool(
            "place_order", {"item": "tea", "quantity": 3}, progress_callback=heard
        )
    assert not result.is_error, result
    assert result.structured_content == {"ordered": "tea", "count": 3}
    assert isinstance(result.content[0], types.TextContent)
    assert '"ordered": "tea"' in result.content[0].text
    execution_id = result.meta["tav/execution_id"] if result.meta else None
    record = await server.parts.executions_service.get(str(execution_id))
    assert record.status == "succeeded"
    assert record.mode == "mcp"
    assert record.input == {"item": "tea", "quantity": 3}
    messages = [message for _, _, message in progress]
    assert "node 'shape' started" in messages
    assert "node 'result' finished" in messages
    assert progress[-1][:2] == (3, 3)  # every node settled, of three


async def test_a_failed_run_is_a_tool_error_naming_the_node(server: Server, key: str) -> None:
    await stored(server, failing_flow())
    async with http_server(server) as base, connected(base, key) as session:
        result = await session.call_tool("charge", {})
    assert result.is_error
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == "node 'charge' failed: RuntimeError: card declined"
    assert result.structured_content == {"status": "failed", "node_id": "charge"}


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"item": "tea"}, "argument 'quantity': is required"),
        ({"item": "tea", "quantity": "three"}, "argument 'quantity': 'three' is not of type"),
        ({"item": "tea", "quantity": 0}, "argument 'quantity': 0 is less than the minimum"),
    ],
)
async def test_bad_arguments_are_a_tool_error_naming_the_field_and_run_nothing(
    server: Server, key: str, arguments: dict[str, Any], says: str
) -> None:
    await stored(server, order_flow())
    async with http_server(server) as base, connected(base, key) as session:
        result = await session.call_tool("place_order", arguments)
    assert result.is_error
    assert isinstance(result.content[0], types.TextContent)
    assert says in result.content[0].text
    found, total = await server.parts.executions_service.find()
    assert total == 0, found


async def test_an_unknown_tool_is_a_protocol_error(server: Server, key: str) -> None:
    async with http_server(server) as base, connected(base, key) as session:
        with pytest.raises(MCPError, match="no workflow is offered as the tool 'nothing'"):
            await session.call_tool("nothing", {})


async def test_a_call_whose_run_waits_returns_at_once_with_the_link_to_decide(
    server: Server, key: str
) -> None:
    await stored(server, approval_flow())
    async with http_server(server) as base, connected(base, key) as session:
        result = await session.call_tool("pay_invoice", {}, read_timeout_seconds=20)
    assert not result.is_error
    structured = result.structured_content
    assert structured is not None
    assert structured["status"] == "waiting"
    [wait] = structured["waits"]
    assert wait["node_id"] == "ask"
    assert wait["mode"] == "approval"
    assert wait["title"] == "Pay the invoice?"
    assert "/resume/" in wait["url"]
    assert isinstance(result.content[0], types.TextContent)
    assert wait["url"] in result.content[0].text
    record = await server.parts.executions_service.get(structured["execution_id"])
    assert record.status == "waiting"
    link = record.nodes["note"].outputs["output"]["link"]
    assert wait["url"] == link  # the link the workflow itself computed


async def test_a_call_that_outlasts_its_time_limit_ends_and_the_run_goes_on(
    server: Server, key: str
) -> None:
    slow = document(
        node("start", "trigger.manual"),
        node("pause", "core.delay", params={"seconds": 2}),
        links=("start -> pause",),
        name="slow",
        mcp={"name": "slow"},
    )
    await stored(server, slow)
    tools = server.parts.tools
    assert tools is not None
    tools.timeout_s = 0.3
    async with http_server(server) as base, connected(base, key) as session:
        result = await session.call_tool("slow", {})
    assert result.is_error
    assert isinstance(result.content[0], types.TextContent)
    assert "did not end within 0.3 s; it goes on as execution" in result.content[0].text
    execution_id = str(result.meta["tav/execution_id"]) if result.meta else ""
    finished = await server.parts.executions_service.finished(
        server.parts.executions_service.running[execution_id]
    )
    assert finished.status == "succeeded"


async def test_without_a_key_or_with_a_wrong_one_the_answer_is_401_and_no_tools(
    server: Server,
) -> None:
    await stored(server, order_flow())
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}
    async with http_server(server) as base, httpx.AsyncClient(base_url=base) as http:
        missing = await http.post("/mcp", json=listing, headers=accept)
        wrong = await http.post(
            "/mcp", json=listing, headers={**accept, "Authorization": "Bearer tav_wrong"}
        )
        for key in (None, "tav_wrong"):
            with pytest.raises(ExceptionGroup) as refused:  # the SDK client's task groups
                async with connected(base, key) as session:
                    await session.list_tools()
            assert refused.group_contains(MCPError, match="error response", depth=None)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "needs an API key: send 'Authorization: Bearer <key>'" in missing.text
    assert wrong.status_code == 401
    assert "the API key is not valid" in wrong.text
    assert "place_order" not in missing.text + wrong.text


async def test_a_viewer_lists_the_tools_but_may_not_call_them(server: Server) -> None:
    await stored(server, order_flow())
    team = await make_team(server)
    async with http_server(server) as base, connected(base, team[Role.viewer].key) as session:
        listed = await session.list_tools()
        result = await session.call_tool("place_order", {"item": "tea", "quantity": 1})
    assert [tool.name for tool in listed.tools] == ["place_order"]
    assert result.is_error
    assert isinstance(result.content[0], types.TextContent)
    assert "needs the editor role" in result.content[0].text


async def test_a_tool_name_offered_by_another_workflow_is_refused_on_save(
    server: Server, key: str
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with http_server(server) as base, httpx.AsyncClient(base_url=base) as http:
        first = await http.post("/api/v1/workflows", json=order_flow(), headers=headers)
        assert first.status_code == 201, first.text
        clash = await http.post("/api/v1/workflows", json=order_flow(), headers=headers)
        resaved = await http.put(
            f"/api/v1/workflows/{first.json()['id']}", json=order_flow(), headers=headers
        )
        bad_name = await http.post(
            "/api/v1/workflows", json=order_flow("place order!"), headers=headers
        )
        bad_schema = await http.post(
            "/api/v1/workflows",
            json={**order_flow("other"), "input_schema": {"type": "strng"}},
            headers=headers,
        )
    assert clash.status_code == 409
    assert "'place_order' is offered by the workflow 'Place an order' already" in clash.text
    assert resaved.status_code == 200, resaved.text  # its own name is no clash
    assert bad_name.status_code == 422
    assert "mcp.name" in bad_name.text
    assert bad_schema.status_code == 422
    assert "input_schema.type" in bad_schema.text
