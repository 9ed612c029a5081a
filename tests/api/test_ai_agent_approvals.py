"""ai.agent's tools that need a person's approval, over HTTP, against the fake provider
servers (``tests.fakes.llm``): the execution waits (stored, holding nothing) before such a
call runs; approved (its arguments edited), the tool runs with them; rejected, the model is
told so and goes on; the agent goes on where it stopped, asking the model nothing twice."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tav.core.errors import Gone
from tests.api.helpers import ended, stored, until
from tests.api.test_ai_agent import order_status, sub_executions
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import document, node


def notify() -> dict[str, Any]:
    """A tool that needs no approval: says who was told."""
    return document(
        node("start", "trigger.manual"),
        node("said", "core.set", params={"values": {"told": "{{ trigger.who }}"}}),
        node("out", "core.output"),
        links=("start -> said", "said -> out"),
        name="Notify",
        description="Tells someone.",
        input_schema={"type": "object", "properties": {"who": {"type": "string"}}},
    )


def agent(tools: list[Any], credential: str) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node(
            "agent",
            "ai.agent",
            params={
                "prompt": "{{ trigger.question }}",
                "tools": tools,
                "models": [{"credential": credential, "model": "gpt-test"}],
            },
        ),
        node("out", "core.output"),
        links=("start -> agent", "agent -> out"),
        name="Answer a customer",
    )


async def setup(server: Server, fake: FakeProviders, **approval: Any) -> str:
    """The agent workflow, its order_status tool needing approval, notify not."""
    data = {"api_key": "sk-test", "base_url": fake.url("openai")}
    credential = await server.parts.credentials.create("Fake OpenAI", "openai", data)
    order_id = await stored(server, order_status())
    notify_id = await stored(server, notify())
    tools = [{"workflow": order_id, "approval": approval or True}, notify_id]
    return await stored(server, agent(tools, credential.id))


async def parked(client: httpx.AsyncClient, workflow_id: str, question: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/workflows/{workflow_id}/run?wait=true", json={"input": {"question": question}}
    )
    assert response.status_code == 200, response.text
    execution = dict(response.json())
    assert execution["status"] == "waiting", execution
    return execution


async def open_wait(client: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    waits = (await client.get(f"/api/v1/executions/{execution_id}/waits")).json()
    (wait,) = [w for w in waits if w["status"] == "open"]
    return dict(wait)


async def decide(client: httpx.AsyncClient, execution_id: str, **body: Any) -> None:
    response = await client.post(f"/api/v1/executions/{execution_id}/waits/agent", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["decided"] is True


async def test_approved_with_edited_arguments_the_tool_runs_with_them(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    agent_id = await setup(server, fake_llm)
    fake_llm.reply(
        "openai",
        Reply(
            tool_calls=[
                {"name": "order_status", "arguments": {"order": "A-1"}},
                {"name": "notify", "arguments": {"who": "ops"}},
            ],
            usage=(3, 4),
        ),
        Reply(text="Order A-2 has shipped; ops know.", usage=(10, 20)),
    )
    execution = await parked(client, agent_id, "Where is my order?")
    execution_id = execution["execution_id"]
    assert execution["nodes"]["agent"]["status"] == "waiting"
    assert len(fake_llm.requests_to("openai")) == 1
    # The call that needs no approval ran already; the other waits.
    subs = await sub_executions(client, execution_id)
    assert [s["workflow"] for s in subs] == ["Notify"]

    wait = await open_wait(client, execution_id)
    assert wait["mode"] == "approval"
    assert wait["title"] == "Allow the agent to call order_status?"
    assert wait["tool_call"] == {
        "tool": "order_status",
        "description": "Tells where an order is.",
        "arguments": {"order": "A-1"},
        "workflow": wait["tool_call"]["workflow"],
    }
    assert wait["fields"]["properties"]["order"]["default"] == "A-1"
    assert wait["fields"]["required"] == ["order"]
    assert '"order": "A-1"' in wait["description"]

    await decide(client, execution_id, decision="approve", data={"order": "A-2"}, comment="A-2")
    finished = await until(client, execution_id, ended, within_s=15)

    assert finished["status"] == "succeeded", finished
    output = finished["output"]
    assert output["answer"] == "Order A-2 has shipped; ops know."
    order, told = output["steps"]
    assert order["arguments"] == {"order": "A-2"}
    assert order["output"] == {"order": "A-2", "status": "shipped"}
    assert order["approval"]["decision"] == "approve"
    assert order["approval"]["asked"] == {"order": "A-1"}
    assert order["approval"]["comment"] == "A-2"
    assert told["output"] == {"told": "ops"}

    requests = [r.json for r in fake_llm.requests_to("openai")]
    assert len(requests) == 2  # the model was not asked again for what it had answered
    results = [m for m in requests[1]["messages"] if m["role"] == "tool"]
    assert "A-2" in results[0]["content"]
    assert "shipped" in results[0]["content"]
    assert "ops" in results[1]["content"]
    assert requests[1]["messages"][-3]["tool_calls"][0]["function"]["name"] == "order_status"
    subs = await sub_executions(client, execution_id)
    assert sorted(s["workflow"] for s in subs) == ["Notify", "Order status"]  # each ran once
    # Tokens of both model calls, the one before the wait and the one after.
    assert output["usage"] == {"input_tokens": 13, "output_tokens": 24, "total_tokens": 37}
    assert finished["nodes"]["agent"]["usage"] == output["usage"]


async def test_rejected_the_model_is_told_and_goes_on(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    agent_id = await setup(server, fake_llm)
    fake_llm.reply(
        "openai",
        Reply(tool_calls=[{"name": "order_status", "arguments": {"order": "A-1"}}]),
        Reply(tool_calls=[{"name": "order_status", "arguments": {"order": "B-7"}}]),
        Reply(text="I may not look that order up."),
    )
    execution_id = (await parked(client, agent_id, "Where is A-1?"))["execution_id"]
    await decide(client, execution_id, decision="reject", comment="not this customer's order")

    # The model tries again: a second wait, with a link of its own.
    again = await until(client, execution_id, lambda e: e["status"] in {"waiting", "failed"})
    assert again["status"] == "waiting", again
    wait = await open_wait(client, execution_id)
    assert wait["tool_call"]["arguments"] == {"order": "B-7"}
    told = [r.json for r in fake_llm.requests_to("openai")][1]["messages"][-1]
    assert told["role"] == "tool"
    assert "Rejected" in told["content"]
    assert "not this customer's order" in told["content"]

    await decide(client, execution_id, decision="reject", comment="no")
    finished = await until(client, execution_id, ended, within_s=15)
    assert finished["status"] == "succeeded", finished
    assert finished["output"]["answer"] == "I may not look that order up."
    steps = finished["output"]["steps"]
    assert [s["approval"]["decision"] for s in steps] == ["reject", "reject"]
    assert all("output" not in s for s in steps)
    assert await sub_executions(client, execution_id) == []  # the tool never ran
    assert len(fake_llm.requests_to("openai")) == 3
    waits = (await client.get(f"/api/v1/executions/{execution_id}/waits")).json()
    assert [w["status"] for w in waits] == ["decided"]


async def test_a_timeout_that_rejects_tells_the_model_nobody_approved(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    agent_id = await setup(server, fake_llm, timeout="1s", on_timeout="reject")
    fake_llm.reply(
        "openai",
        Reply(tool_calls=[{"name": "order_status", "arguments": {"order": "A-1"}}]),
        Reply(text="Nobody let me look."),
    )
    execution_id = (await parked(client, agent_id, "Where is A-1?"))["execution_id"]
    waits: Any = server.parts.waits
    await asyncio.sleep(1.1)
    await waits.fire_due()
    finished = await until(client, execution_id, ended, within_s=15)
    assert finished["status"] == "succeeded", finished
    (step,) = finished["output"]["steps"]
    assert step["approval"]["decision"] == "timeout"
    told = [r.json for r in fake_llm.requests_to("openai")][1]["messages"][-1]
    assert "nobody approved" in told["content"]


def asking_tool() -> dict[str, Any]:
    """A tool workflow that waits itself: a person says how many there are."""
    fields = {"type": "object", "properties": {"count": {"type": "integer"}}}
    return document(
        node("start", "trigger.manual"),
        node("ask", "core.wait", params={"mode": "approval", "title": "Count?", "fields": fields}),
        node("said", "core.set", params={"values": {"count": "{{ input.data.count }}"}}),
        node("out", "core.output"),
        links=("start -> ask", "ask:approved -> said", "said -> out"),
        name="Count stock",
        description="Asks the warehouse.",
        input_schema={"type": "object", "properties": {"item": {"type": "string"}}},
    )


async def test_a_tool_workflow_that_waits_itself_is_waited_for(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    data = {"api_key": "sk-test", "base_url": fake_llm.url("openai")}
    credential = await server.parts.credentials.create("Fake OpenAI", "openai", data)
    tool_id = await stored(server, asking_tool())
    agent_id = await stored(server, agent([tool_id], credential.id))
    fake_llm.reply(
        "openai",
        Reply(tool_calls=[{"name": "count_stock", "arguments": {"item": "bolts"}}]),
        Reply(text="There are 40 bolts."),
    )
    execution_id = (await parked(client, agent_id, "How many bolts?"))["execution_id"]
    (child,) = await sub_executions(client, execution_id)
    assert child["status"] == "waiting"
    waits = (await client.get(f"/api/v1/executions/{execution_id}/waits")).json()
    assert [(w["mode"], w["executions"]) for w in waits] == [("execution", [child["execution_id"]])]

    url = f"/api/v1/executions/{child['execution_id']}/waits/ask"
    decided = await client.post(url, json={"decision": "approve", "data": {"count": 40}})
    assert decided.status_code == 200, decided.text
    finished = await until(client, execution_id, ended, within_s=15)

    assert finished["status"] == "succeeded", finished
    assert finished["output"]["answer"] == "There are 40 bolts."
    (step,) = finished["output"]["steps"]
    assert step == {"tool": "count_stock", "arguments": {"item": "bolts"}, "output": {"count": 40}}
    requests = [r.json for r in fake_llm.requests_to("openai")]
    assert len(requests) == 2
    assert '"count": 40' in requests[1]["messages"][-1]["content"]


async def test_a_timeout_that_fails_fails_the_agent(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    agent_id = await setup(server, fake_llm, timeout="1s")
    fake_llm.reply(
        "openai", Reply(tool_calls=[{"name": "order_status", "arguments": {"order": "A-1"}}])
    )
    execution_id = (await parked(client, agent_id, "Where is A-1?"))["execution_id"]
    waits: Any = server.parts.waits
    await asyncio.sleep(1.1)
    await waits.fire_due()
    finished = await until(client, execution_id, ended, within_s=15)
    assert finished["status"] == "failed", finished
    error = finished["nodes"]["agent"]["error"]
    assert error["type"] == "wait_timeout"
    assert "order_status" in error["message"]
    assert len(fake_llm.requests_to("openai")) == 1


async def test_two_calls_of_one_answer_wait_one_after_the_other(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    agent_id = await setup(server, fake_llm)
    fake_llm.reply(
        "openai",
        Reply(
            tool_calls=[
                {"name": "order_status", "arguments": {"order": "A-1"}},
                {"name": "order_status", "arguments": {"order": "B-2"}},
            ]
        ),
        Reply(text="A-1 has shipped; B-2 I may not tell."),
    )
    execution_id = (await parked(client, agent_id, "Where are A-1 and B-2?"))["execution_id"]
    first = await open_wait(client, execution_id)
    assert first["tool_call"]["arguments"] == {"order": "A-1"}
    await decide(client, execution_id, decision="approve")

    await until(client, execution_id, lambda e: e["status"] in {"waiting", "failed"})
    second = await open_wait(client, execution_id)
    assert second["tool_call"]["arguments"] == {"order": "B-2"}
    assert len(fake_llm.requests_to("openai")) == 1  # not asked before both are decided
    await decide(client, execution_id, decision="reject", comment="other customer")

    finished = await until(client, execution_id, ended, within_s=15)
    assert finished["status"] == "succeeded", finished
    shipped, refused = finished["output"]["steps"]
    assert shipped["output"] == {"order": "A-1", "status": "shipped"}
    assert refused["approval"]["decision"] == "reject"
    results = [m for m in fake_llm.requests_to("openai")[1].json["messages"] if m["role"] == "tool"]
    assert "shipped" in results[0]["content"]
    assert "other customer" in results[1]["content"]
    assert [s["workflow"] for s in await sub_executions(client, execution_id)] == ["Order status"]


async def test_a_nodes_wait_opened_again_is_kept_and_its_next_takes_its_place(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    agent_id = await setup(server, fake_llm)
    fake_llm.reply(
        "openai", Reply(tool_calls=[{"name": "order_status", "arguments": {"order": "A-1"}}])
    )
    execution_id = (await parked(client, agent_id, "Where is A-1?"))["execution_id"]
    waits = server.parts.waits
    assert waits is not None
    first = await waits.repository.get(execution_id, "agent")
    assert first is not None
    assert (first.request.seq, first.request.rerun) == (0, True)
    assert first.request.state is None  # not read with the wait: a column of its own
    (state,) = (await waits.repository.states(execution_id, ["agent"])).values()
    assert "Where is A-1?" in str(state["messages"])
    token = waits.links.token(execution_id, "agent")
    assert (await waits.by_token(token)).node_id == "agent"

    # Opened again (the node run again after a crash): nothing changes.
    again = first.request.model_copy(update={"title": "changed"})
    await waits.open(execution_id, "agent", again)
    kept = await waits.repository.get(execution_id, "agent")
    assert kept is not None
    assert kept.request.title == first.request.title

    # Its next wait takes its place, under a link of its own; the earlier link is over.
    await waits.open(execution_id, "agent", again.model_copy(update={"seq": 1}))
    with pytest.raises(Gone):
        await waits.by_token(token)
    assert (await client.get(f"/resume/{token}")).status_code == 410
    assert (await client.get(f"/resume/{token}x")).status_code == 404
    later = await waits.by_token(waits.links.token(execution_id, "agent", 1))
    assert (later.request.seq, later.request.title) == (1, "changed")
