"""ai.agent with stored workflows as its tools, through the real chat service and LangChain
client against the fake provider servers (``tests.fakes.llm``)."""

from __future__ import annotations

from typing import Any

import httpx

from tav.app.server import Server
from tests.api.helpers import run_to_end, stored
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import document, node

ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order": {"type": "string", "description": "The order number."}},
    "required": ["order"],
}


def order_status() -> dict[str, Any]:
    """The tool: fails for orders starting with 9, else says the order has shipped."""
    return document(
        node("start", "trigger.manual"),
        node("known", "core.if", params={"condition": "{{ not trigger.order.startswith('9') }}"}),
        node(
            "found",
            "core.set",
            params={"values": {"order": "{{ trigger.order }}", "status": "shipped"}},
        ),
        node("missing", "core.fail", params={"message": "no order {{ trigger.order }}"}),
        node("out", "core.output"),
        links=("start -> known", "known:true -> found", "known:false -> missing", "found -> out"),
        name="Order status",
        description="Tells where an order is.",
        input_schema=ORDER_SCHEMA,
    )


def answering(tool_id: str, credential: str) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node(
            "agent",
            "ai.agent",
            params={
                "prompt": "{{ trigger.question }}",
                "tools": [tool_id],
                "models": [{"credential": credential, "model": "gpt-test"}],
            },
        ),
        node("out", "core.output"),
        links=("start -> agent", "agent -> out"),
        name="Answer a customer",
    )


async def setup(server: Server, fake: FakeProviders) -> tuple[str, str]:
    """The stored tool and agent workflows' ids."""
    data = {"api_key": "sk-test", "base_url": fake.url("openai")}
    credential = await server.parts.credentials.create("Fake OpenAI", "openai", data)
    tool_id = await stored(server, order_status())
    return tool_id, await stored(server, answering(tool_id, credential.id))


async def sub_executions(client: httpx.AsyncClient, parent: str) -> list[dict[str, Any]]:
    page = (await client.get("/api/v1/executions", params={"limit": 500})).json()
    return [e for e in page["items"] if e["parent_execution_id"] == parent]


async def test_the_agent_calls_a_stored_workflow_and_answers(client, server, fake_llm):
    _, agent_id = await setup(server, fake_llm)
    fake_llm.reply(
        "openai",
        Reply(tool_calls=[{"name": "order_status", "arguments": {"order": "A-1"}}]),
        Reply(text="Order A-1 has shipped."),
    )
    execution = await run_to_end(client, agent_id, input={"question": "Where is A-1?"})

    assert execution["status"] == "succeeded", execution
    output = execution["output"]
    assert output["answer"] == "Order A-1 has shipped."
    assert output["steps"] == [
        {
            "tool": "order_status",
            "arguments": {"order": "A-1"},
            "output": {"order": "A-1", "status": "shipped"},
        }
    ]
    assert (output["provider"], output["model"]) == ("openai", "gpt-test")

    first, second = (r.json for r in fake_llm.requests_to("openai"))
    (tool,) = first["tools"]
    assert tool["function"] == {
        "name": "order_status",
        "description": "Tells where an order is.",
        "parameters": ORDER_SCHEMA,
    }
    assert second["messages"][-1]["role"] == "tool"
    assert "shipped" in second["messages"][-1]["content"]

    (sub,) = await sub_executions(client, execution["execution_id"])
    assert (sub["workflow"], sub["status"], sub["mode"]) == (
        "Order status",
        "succeeded",
        "subworkflow",
    )
    ran = (await client.get(f"/api/v1/executions/{sub['execution_id']}")).json()
    assert ran["nodes"]["found"]["status"] == "succeeded"


async def test_a_failing_tool_workflow_is_told_to_the_model(client, server, fake_llm):
    _, agent_id = await setup(server, fake_llm)
    fake_llm.reply(
        "openai",
        Reply(tool_calls=[{"name": "order_status", "arguments": {"order": "9-9"}}]),
        Reply(text="I cannot find order 9-9."),
    )
    execution = await run_to_end(client, agent_id, input={"question": "Where is 9-9?"})

    assert execution["status"] == "succeeded", execution
    (step,) = execution["output"]["steps"]
    assert "no order 9-9" in step["error"]
    told = [r.json for r in fake_llm.requests_to("openai")][1]["messages"][-1]
    assert told["role"] == "tool"
    assert told["content"].startswith("Error: ")
    (sub,) = await sub_executions(client, execution["execution_id"])
    assert sub["status"] == "failed"
