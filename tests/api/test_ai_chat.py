"""An LLM chat over HTTP: a stored provider credential, tokens in the SSE stream and the
stored events, usage on the execution, the default chain as a runtime setting."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tav.app.server import Server
from tests.api.helpers import run_to_end, start, stored
from tests.api.test_stream import read_stream
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import document, node

API_KEY = "sk-api-test-9d8c7b6a5f4e"


async def openai_credential(client: httpx.AsyncClient, fake: FakeProviders) -> str:
    body = {
        "name": "Fake OpenAI",
        "kind": "openai",
        "data": {"api_key": API_KEY, "base_url": fake.url("openai")},
    }
    response = await client.post("/api/v1/credentials", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def written(server: Server, execution_id: str, count: int) -> list[dict[str, Any]]:
    """The stored events, once the writer has stored ``count`` of them."""
    async with asyncio.timeout(10):
        while True:
            stored = await server.parts.executions.events(execution_id)
            if len(stored) >= count:
                return stored
            await asyncio.sleep(0.02)


def chat_document(**params: object) -> dict[str, object]:
    return document(
        node("start", "trigger.manual"),
        node("chat", "ai.llm_chat", params={"prompt": "{{ trigger.question }}", **params}),
        links=("start -> chat",),
        name="ask",
    )


async def test_tokens_stream_as_progress_events_and_usage_is_recorded(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    credential = await openai_credential(client, fake_llm)
    fake_llm.reply("openai", Reply(text="Paris is the capital of France", usage=(12, 6)))
    models = [{"credential": credential, "model": "gpt-test"}]
    workflow_id = await stored(server, chat_document(models=models))

    execution_id = await start(client, workflow_id, input={"question": "Capital of France?"})
    events = await read_stream(client, execution_id)

    tokens = [e.data["data"]["token"] for e in events if e.event == "node.progress"]
    assert "".join(tokens) == "Paris is the capital of France"
    assert events[-1].event == "execution.completed"
    stored_events = await written(server, execution_id, len(events))
    assert [e.data for e in events] == stored_events
    execution = (await client.get(f"/api/v1/executions/{execution_id}")).json()
    usage = {"input_tokens": 12, "output_tokens": 6, "total_tokens": 18}
    assert execution["usage"] == usage
    assert execution["nodes"]["chat"]["usage"] == usage
    assert execution["nodes"]["chat"]["outputs"]["output"]["provider"] == "openai"
    assert API_KEY not in json.dumps(execution) + json.dumps(stored_events)
    [request] = fake_llm.requests
    assert request.json["messages"][-1]["content"] == "Capital of France?"


async def test_the_default_chain_is_a_runtime_setting(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    credential = await openai_credential(client, fake_llm)
    chain = [{"credential": credential, "model": "gpt-default"}]

    response = await client.put("/api/v1/settings", json={"ai_default_models": chain})
    assert response.status_code == 200, response.text
    assert response.json()["ai_default_models"] == chain
    execution = await run_to_end(
        client, await stored(server, chat_document()), input={"question": "hi"}
    )

    assert execution["status"] == "succeeded"
    assert execution["nodes"]["chat"]["outputs"]["output"]["model"] == "gpt-default"


async def test_a_default_chain_naming_an_unknown_credential_is_refused(
    client: httpx.AsyncClient,
) -> None:
    chain = [{"credential": "0" * 32, "model": "m"}]
    response = await client.put("/api/v1/settings", json={"ai_default_models": chain})
    assert response.status_code == 422
    assert "no credential" in response.text
    empty_model = await client.put(
        "/api/v1/settings", json={"ai_default_models": [{"credential": "x", "model": ""}]}
    )
    assert empty_model.status_code == 422


async def test_without_models_or_default_chain_the_node_says_so(
    client: httpx.AsyncClient, server: Server
) -> None:
    execution = await run_to_end(
        client, await stored(server, chat_document()), input={"question": "hi"}
    )

    error = execution["nodes"]["chat"]["error"]
    assert (execution["status"], error["type"]) == ("failed", "no_models")


async def test_embedding_nodes_have_a_default_chain_of_their_own(
    client: httpx.AsyncClient, server: Server, fake_llm: FakeProviders
) -> None:
    credential = await openai_credential(client, fake_llm)
    chain = [{"credential": credential, "model": "text-embedding-default"}]
    response = await client.put("/api/v1/settings", json={"ai_default_embedding_models": chain})
    assert response.status_code == 200, response.text
    assert response.json()["ai_default_models"] == []
    doc = document(node("embed", "ai.embed", params={"texts": ["one", "two"]}), name="embed")

    execution = await run_to_end(client, await stored(server, doc))

    assert execution["status"] == "succeeded", execution
    output = execution["nodes"]["embed"]["outputs"]["output"]
    assert output["model"] == "text-embedding-default"
    assert len(output["vectors"]) == 2


async def test_a_default_embedding_chain_needs_an_embeddings_provider(
    client: httpx.AsyncClient, fake_llm: FakeProviders
) -> None:
    body = {"name": "Claude", "kind": "anthropic", "data": {"api_key": API_KEY}}
    credential = (await client.post("/api/v1/credentials", json=body)).json()["id"]
    chain = [{"credential": credential, "model": "claude"}]

    response = await client.put("/api/v1/settings", json={"ai_default_embedding_models": chain})

    assert response.status_code == 422
    assert "ai_default_embedding_models[0]" in response.text
    assert "not an embeddings provider" in response.text
