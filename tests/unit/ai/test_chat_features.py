"""The response cache, secrets, the default chain, structured output, tools and media."""

from __future__ import annotations

import base64
import logging

import pytest

from tav.ai import AIConfig
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.nodes.ai import ModelRef
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import run
from tests.unit.ai.conftest import API_KEY
from tests.unit.ai.helpers import ask_flow, chain, chat_flow, everything, output, progress, tokens

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(24)).decode()
IMAGE = {"media": "v1", "kind": "image", "mime_type": "image/png", "data": PNG, "name": "a.png"}
PERSON = {
    "title": "Person",
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


async def test_a_cached_answer_is_reused_without_calling_the_provider(
    executor: Executor, bus: InMemoryBus, fake_llm: FakeProviders
) -> None:
    flow = chat_flow(prompt="hi", models=chain("openai:gpt"), cache=True, temperature=0)

    first = await run(executor, flow)
    second = await run(executor, flow)

    assert len(fake_llm.requests) == 1
    assert output(second)["text"] == output(first)["text"] == "echo: hi"
    assert (output(first)["cached"], output(second)["cached"]) == (False, True)
    assert second.nodes["chat"].usage is None or not any(second.nodes["chat"].usage.values())
    assert tokens(await progress(bus, second)) == "echo: hi"
    other = await run(executor, chat_flow(prompt="hi", models=chain("openai:gpt"), cache=True))
    assert output(other)["cached"] is False  # another temperature: another request


async def test_without_cache_every_run_asks(executor: Executor, fake_llm: FakeProviders) -> None:
    flow = chat_flow(prompt="hi", models=chain("openai:gpt"))
    await run(executor, flow)
    await run(executor, flow)
    assert len(fake_llm.requests) == 2


async def test_the_api_key_never_shows_in_outputs_errors_events_or_logs(
    executor: Executor,
    bus: InMemoryBus,
    fake_llm: FakeProviders,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_llm.reply("openai", Reply(status=401))
    fake_llm.reply("anthropic", Reply(status=401))

    with caplog.at_level(logging.INFO):
        result = await run(
            executor, chat_flow(prompt="hi", models=chain("openai:gpt", "anthropic:claude"))
        )

    error = result.nodes["chat"].error
    assert error is not None
    assert "HTTP 401" in error.message
    assert "Incorrect API key provided: ***" in error.message
    assert not error.retryable
    assert API_KEY not in await everything(bus, result)
    assert API_KEY not in caplog.text


@pytest.fixture
def ai_config() -> AIConfig:
    return AIConfig(timeout_s=5, default_models=(ModelRef(credential="anthropic", model="dflt"),))


async def test_a_node_without_models_uses_the_default_chain(executor: Executor) -> None:
    result = await run(executor, chat_flow(prompt="hi"))
    assert (output(result)["provider"], output(result)["model"]) == ("anthropic", "dflt")


async def test_no_models_and_no_default_chain_is_a_clear_error(
    executor: Executor, ai_config: AIConfig
) -> None:
    executor.services.chat_models.configure(AIConfig())  # type: ignore[union-attr]

    result = await run(executor, chat_flow(prompt="hi"))

    error = result.nodes["chat"].error
    assert error is not None
    assert error.type == "no_models"
    assert "ai_default_models" in error.message


@pytest.mark.parametrize("kind", ["openai", "openai_compatible", "anthropic", "ollama", "google"])
async def test_structured_output_fits_the_schema(
    kind: str, executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply(kind, Reply(text='{"name": "Ada", "age": 36}'))
    request = {"models": chain(f"{kind}:m"), "messages": [{"role": "user", "content": "who?"}]}

    result = await run(executor, ask_flow(chat={**request, "json_schema": PERSON}))

    answer = output(result, "ask")
    assert answer["structured"] == {"name": "Ada", "age": 36}
    assert answer["usage"]["total_tokens"] == 12


async def test_an_answer_that_does_not_fit_is_asked_again_once(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply(
        "openai", Reply(text='{"name": "Ada", "age": -1}'), Reply(text='{"name": "Ada", "age": 36}')
    )
    request = {"models": chain("openai:m"), "messages": [{"role": "user", "content": "who?"}]}

    result = await run(executor, ask_flow(chat={**request, "json_schema": PERSON}))

    assert output(result, "ask")["structured"] == {"name": "Ada", "age": 36}
    assert output(result, "ask")["usage"]["total_tokens"] == 24
    retry = fake_llm.requests[1].json["messages"][-1]["content"]
    assert "does not fit the JSON Schema" in retry
    assert "less than the minimum of 0" in retry


async def test_a_second_miss_fails_with_a_clear_error(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("anthropic", Reply(text='{"name": "Ada"}'), Reply(text="not json at all"))
    request = {"models": chain("anthropic:m"), "messages": [{"role": "user", "content": "who?"}]}

    result = await run(executor, ask_flow(chat={**request, "json_schema": PERSON}))

    error = result.nodes["ask"].error
    assert error is not None
    assert (error.type, error.retryable) == ("invalid_answer", False)
    assert "does not fit the JSON Schema, asked twice" in error.message


@pytest.mark.parametrize("kind", ["openai", "anthropic", "ollama", "google"])
async def test_tool_calls_come_back_and_a_tool_conversation_goes_out(
    kind: str, executor: Executor, fake_llm: FakeProviders
) -> None:
    tools = [
        {
            "name": "weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    fake_llm.reply(kind, Reply(tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}}]))
    asked = [{"role": "user", "content": "Weather in Oslo?"}]
    first = await run(
        executor, ask_flow(chat={"models": chain(f"{kind}:m"), "messages": asked, "tools": tools})
    )

    [call] = output(first, "ask")["tool_calls"]
    assert (call["name"], call["arguments"]) == ("weather", {"city": "Oslo"})
    history = [
        *asked,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": {"temp_c": 4}},
    ]
    fake_llm.reply(kind, Reply(text="It is 4 degrees."))
    second = await run(
        executor, ask_flow(chat={"models": chain(f"{kind}:m"), "messages": history, "tools": tools})
    )

    assert output(second, "ask")["text"] == "It is 4 degrees."
    assert "temp_c" in str(fake_llm.requests[-1].json)


async def test_images_go_to_the_model_as_content_blocks(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    await run(executor, chat_flow(prompt="what is it?", media=[IMAGE], models=chain("openai:m")))
    await run(executor, chat_flow(prompt="what is it?", media=IMAGE, models=chain("anthropic:m")))

    openai_parts = fake_llm.requests[0].json["messages"][-1]["content"]
    assert openai_parts[1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{PNG}"},
    }
    anthropic_parts = fake_llm.requests[1].json["messages"][-1]["content"]
    assert anthropic_parts[1]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": PNG,
    }


async def test_an_image_on_the_input_is_shown_with_the_prompt(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    flow = chat_flow(prompt="describe", models=chain("ollama:llava"))
    await run(executor, flow, IMAGE)
    [request] = fake_llm.requests
    assert request.json["messages"][-1]["images"] == [PNG]


async def test_media_stored_as_a_file_is_a_clear_error(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    stored = {"media": "v1", "kind": "image", "mime_type": "image/png", "uri": "files/a.png"}

    result = await run(executor, chat_flow(prompt="x", media=[stored], models=chain("openai:m")))

    error = result.nodes["chat"].error
    assert error is not None
    assert error.type == "media_not_inline"
    assert "files/a.png" in error.message
    assert fake_llm.requests == []
