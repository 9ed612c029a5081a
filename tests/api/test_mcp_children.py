"""A workflow offered as an MCP tool whose run waits inside a sub-workflow: the call ends
at once with the link of the sub-workflow's wait, the one that decides (the node waiting
for the sub-workflow has none), on SQLite and PostgreSQL."""

from __future__ import annotations

from tav.app.server import Server
from tests.api.helpers import stored
from tests.api.test_mcp import approval_flow, connected, key
from tests.api.triggers import http_server
from tests.helpers import document, node

__all__ = ["key"]  # (the fixture)


async def test_a_call_that_waits_in_a_sub_workflow_returns_the_sub_workflows_link(
    server: Server, key: str
) -> None:
    child = approval_flow()
    child.pop("mcp")
    child_id = await stored(server, child)
    parent = document(
        node("start", "trigger.manual"),
        node("call", "core.subworkflow", params={"workflow": child_id}),
        links=("start -> call",),
        name="pay through a sub-workflow",
        mcp={"name": "pay_through"},
    )
    await stored(server, parent)
    async with http_server(server) as base, connected(base, key) as session:
        result = await session.call_tool("pay_through", {}, read_timeout_seconds=20)
    assert not result.is_error
    structured = result.structured_content
    assert structured is not None
    assert structured["status"] == "waiting"
    [wait] = structured["waits"]
    assert (wait["node_id"], wait["mode"], wait["title"]) == ("ask", "approval", "Pay the invoice?")
    parked = await server.parts.executions_service.get(structured["execution_id"])
    assert parked.nodes["call"].status == "waiting"
    listed, _ = await server.parts.executions_service.find(status=parked.status)
    (waiting_child,) = [e for e in listed if e.parent_execution_id == parked.execution_id]
    child_record = await server.parts.executions_service.get(waiting_child.execution_id)
    assert wait["url"] == child_record.nodes["note"].outputs["output"]["link"]
