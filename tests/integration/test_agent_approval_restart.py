"""An ai.agent waiting for a person to approve a tool call, across a restart of a real
``tav serve`` (SQLite data dir): killed while it waits, the server that comes back resumes
it once the call is approved, the agent goes on where it stopped (the model is not asked
again for what it answered, the tool runs once, with the approved arguments)."""

from __future__ import annotations

import signal
from typing import Any

from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import document, node
from tests.integration.test_durability import (
    Tav,
    check_numbered,
    count,
    finished,
    run,
    store_workflow,
    stored_execution,
    until,
    waiting,
)

SCHEMA = {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]}


def tool() -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("found", "core.set", params={"values": {"status": "shipped {{ trigger.order }}"}}),
        node("out", "core.output"),
        links=("start -> found", "found -> out"),
        name="Order status",
        description="Tells where an order is.",
        input_schema=SCHEMA,
    )


def agent(tool_id: str, credential: str) -> dict[str, Any]:
    params = {
        "prompt": "Where is my order?",
        "tools": [{"workflow": tool_id, "approval": True}],
        "models": [{"credential": credential, "model": "gpt-test"}],
    }
    return document(
        node("start", "trigger.manual"),
        node("agent", "ai.agent", params=params),
        node("out", "core.output"),
        links=("start -> agent", "agent -> out"),
    )


async def test_killed_while_a_tool_call_waits_for_approval_it_goes_on_once_approved(
    tav: Tav, fake_llm: FakeProviders
) -> None:
    fake_llm.reply(
        "openai",
        Reply(tool_calls=[{"name": "order_status", "arguments": {"order": "A-1"}}]),
        Reply(text="It has shipped."),
    )
    tool_id = await store_workflow(tav.data_dir, tool())
    async with await tav.start() as client:
        data = {"api_key": "sk-test", "base_url": fake_llm.url("openai")}
        body = {"name": "Fake OpenAI", "kind": "openai", "data": data}
        created = await client.post("/api/v1/credentials", json=body)
        assert created.status_code == 201, created.text
        workflow_id = await store_workflow(tav.data_dir, agent(tool_id, created.json()["id"]))
        execution_id = await run(client, workflow_id)
        await until(client, execution_id, waiting)
    tav.signal(signal.SIGKILL)
    await tav.wait(15)

    async with await tav.start() as client:
        (wait,) = (await client.get(f"/api/v1/executions/{execution_id}/waits")).json()
        assert wait["tool_call"]["arguments"] == {"order": "A-1"}
        body = {"decision": "approve", "data": {"order": "A-9"}}
        decided = await client.post(f"/api/v1/executions/{execution_id}/waits/agent", json=body)
        assert decided.status_code == 200, decided.text
        result = await until(client, execution_id, finished)
    assert result["status"] == "succeeded", result
    (step,) = result["output"]["steps"]
    assert step["output"] == {"status": "shipped A-9"}
    requests = fake_llm.requests_to("openai")
    assert len(requests) == 2
    assert "shipped A-9" in requests[1].json["messages"][-1]["content"]
    tav.signal(signal.SIGTERM)
    await tav.wait(15)
    _, events = await stored_execution(tav.data_dir, execution_id)
    check_numbered(events)
    assert count(events, "node.started", "agent") == 2  # its first run, and after the wait
    assert count(events, "node.completed", "agent") == 1
    assert [e["type"] for e in events].count("execution.waiting") == 1
