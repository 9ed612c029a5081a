"""An ai.agent's tool call waiting for approval in queue mode (real ``tav serve`` and
``tav worker`` processes over PostgreSQL and Redis): the wait holds no worker, and the
worker that claims the execution once the call is approved — another than the one that
parked it, which is gone — goes on with the agent's conversation where it stopped."""

from __future__ import annotations

import signal

from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import document, node
from tests.integration.queue.cluster import Cluster
from tests.integration.test_durability import check_numbered, count, finished, run, until, waiting

SCHEMA = {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]}


async def test_an_approved_tool_call_goes_on_on_another_worker(
    cluster: Cluster, fake_llm: FakeProviders
) -> None:
    tool = document(
        node("start", "trigger.manual"),
        node("found", "core.set", params={"values": {"status": "shipped {{ trigger.order }}"}}),
        node("out", "core.output"),
        links=("start -> found", "found -> out"),
        name="Order status",
        input_schema=SCHEMA,
    )
    tool_id = await cluster.store_workflow(tool)
    fake_llm.reply(
        "openai",
        Reply(tool_calls=[{"name": "order_status", "arguments": {"order": "A-1"}}]),
        Reply(text="It has shipped."),
    )
    first = await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        body = {
            "name": "Fake OpenAI",
            "kind": "openai",
            "data": {"api_key": "sk-agent-queue", "base_url": fake_llm.url("openai")},
        }
        created = await client.post("/api/v1/credentials", json=body)
        assert created.status_code == 201, created.text
        params = {
            "prompt": "Where is my order?",
            "tools": [{"workflow": tool_id, "approval": True}],
            "models": [{"credential": created.json()["id"], "model": "gpt-test"}],
        }
        agent = document(
            node("start", "trigger.manual"),
            node("agent", "ai.agent", params=params),
            node("out", "core.output"),
            links=("start -> agent", "agent -> out"),
        )
        execution_id = await run(client, await cluster.store_workflow(agent))
        await until(client, execution_id, waiting, within_s=30)
        parked_by = await cluster.column(execution_id, "worker")
        assert await cluster.column(execution_id, "lease_token") is None  # it holds no worker
        first.signal(signal.SIGKILL)
        await first.wait(10)
        await cluster.worker()
        decision = {"decision": "approve", "data": {"order": "A-3"}}
        answer = await client.post(f"/api/v1/executions/{execution_id}/waits/agent", json=decision)
        assert answer.status_code == 200, answer.text
        result = await until(client, execution_id, finished, within_s=30)
    assert result["status"] == "succeeded", result
    (step,) = result["output"]["steps"]
    assert step["output"] == {"status": "shipped A-3"}
    assert await cluster.column(execution_id, "worker") != parked_by
    assert len(fake_llm.requests_to("openai")) == 2
    _, events = await cluster.stored(execution_id)
    check_numbered(events)
    assert count(events, "node.started", "agent") == 2
    assert count(events, "node.completed", "agent") == 1
