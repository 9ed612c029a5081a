"""Each provider kind answers through its real LangChain client, streamed or not."""

from __future__ import annotations

import pytest

from tav.ai.providers import PROVIDERS
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import run
from tests.unit.ai.conftest import API_KEY
from tests.unit.ai.helpers import chain, chat_flow, output, progress, tokens

KINDS = [provider.kind for provider in PROVIDERS]


@pytest.mark.parametrize("kind", KINDS)
async def test_each_provider_answers_with_streamed_tokens_and_usage(
    kind: str, executor: Executor, bus: InMemoryBus, fake_llm: FakeProviders
) -> None:
    fake_llm.reply(
        kind, Reply(text="The sky is blue because of Rayleigh scattering", usage=(11, 9))
    )

    result = await run(
        executor, chat_flow(prompt="Why is the sky blue?", models=chain(f"{kind}:m1"))
    )

    answer = output(result)
    assert answer["text"] == "The sky is blue because of Rayleigh scattering"
    assert (answer["provider"], answer["model"]) == (kind, "m1")
    assert answer["usage"] == {"input_tokens": 11, "output_tokens": 9, "total_tokens": 20}
    assert result.nodes["chat"].usage == answer["usage"]
    assert [a["outcome"] for a in answer["attempts"]] == ["answered"]
    assert tokens(await progress(bus, result)) == answer["text"]
    [request] = fake_llm.requests_to(kind)
    assert "Why is the sky blue?" in str(request.json)


@pytest.mark.parametrize("kind", KINDS)
async def test_each_provider_answers_without_streaming(
    kind: str, executor: Executor, bus: InMemoryBus, fake_llm: FakeProviders
) -> None:
    flow = chat_flow(
        prompt="hello",
        system="Be brief.",
        models=chain(f"{kind}:m1"),
        stream=False,
        temperature=0.2,
        max_tokens=50,
    )
    result = await run(executor, flow)

    assert output(result)["text"] == "echo: hello"
    assert tokens(await progress(bus, result)) == ""
    [request] = fake_llm.requests_to(kind)
    assert "Be brief." in str(request.json)
    assert ("stream" not in request.path and request.json.get("stream") in (None, False)) or (
        kind == "ollama"  # ChatOllama always streams on the wire
    )


async def test_keys_reach_the_provider_in_a_header(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    for kind in ("openai", "anthropic", "google"):
        await run(executor, chat_flow(prompt="hi", models=chain(f"{kind}:m")))
    for request in fake_llm.requests:
        presented = {
            request.headers.get(h) for h in ("authorization", "x-api-key", "x-goog-api-key")
        }
        assert presented & {API_KEY, f"Bearer {API_KEY}"}, request.provider


async def test_ollama_sends_the_credential_headers(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    await run(executor, chat_flow(prompt="hi", models=chain("ollama:llama3")))
    [request] = fake_llm.requests
    assert request.headers["x-key"] == API_KEY
