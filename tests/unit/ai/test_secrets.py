"""Secrets and the AI services: the response cache never keeps or returns one, and a
secret streamed in pieces reaches watchers redacted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tav.ai import AIConfig, AIServices, MemoryResponseCache
from tav.ai.streaming import TokenBatcher
from tav.credentials import Vault
from tav.credentials.keys import generate_key, to_fernet_key
from tav.credentials.redaction import to_redact
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import run
from tests.unit.ai.conftest import API_KEY
from tests.unit.ai.helpers import chain, chat_flow, everything, output, progress, tokens


@pytest.fixture
def vault() -> Vault:
    """The host's vault, knowing the test credentials' key."""
    vault = Vault([to_fernet_key(generate_key())])
    vault.remember(to_redact("openai", {"api_key": API_KEY}))
    return vault


@pytest.fixture
def cache() -> MemoryResponseCache:
    return MemoryResponseCache()


@pytest.fixture
def ai(ai_config: AIConfig, cache: MemoryResponseCache, vault: Vault) -> AIServices:
    return AIServices(ai_config, cache=cache, redaction=vault)


def stored(cache: MemoryResponseCache) -> str:
    return b"".join(cache._entries.values()).decode()


async def test_an_answer_repeating_the_key_is_cached_redacted_and_a_hit_is_redacted(
    executor: Executor, bus: InMemoryBus, fake_llm: FakeProviders, cache: MemoryResponseCache
) -> None:
    fake_llm.reply("openai", Reply(text="you sent ", echo_key=True))
    flow = chat_flow(prompt="what key?", models=chain("openai:gpt"), cache=True)

    first = await run(executor, flow)
    second = await run(executor, flow)

    assert len(fake_llm.requests) == 1
    assert output(second)["cached"] is True
    assert output(second)["text"] == output(first)["text"] == "you sent ***"
    assert API_KEY not in stored(cache)
    assert "you sent ***" in stored(cache)
    assert API_KEY not in await everything(bus, second)


async def test_a_request_holding_a_stored_secret_is_not_cached(
    executor: Executor, fake_llm: FakeProviders, cache: MemoryResponseCache
) -> None:
    flow = chat_flow(prompt=f"is {API_KEY} valid?", models=chain("openai:gpt"), cache=True)

    await run(executor, flow)
    second = await run(executor, flow)

    assert len(fake_llm.requests) == 2
    assert output(second)["cached"] is False
    assert not cache._entries


async def test_a_hit_of_a_credential_deleted_since_is_not_served(
    executor: Executor, fake_llm: FakeProviders, secrets: Any
) -> None:
    flow = chat_flow(prompt="hi", models=chain("openai:gpt"), cache=True)
    await run(executor, flow)
    del secrets.credentials["openai"]

    result = await run(executor, flow)

    assert result.nodes["chat"].error is not None
    assert "no credential" in result.nodes["chat"].error.message


async def test_a_key_streamed_in_pieces_reaches_watchers_redacted(
    executor: Executor, bus: InMemoryBus, fake_llm: FakeProviders
) -> None:
    pieces = ["The key is ", API_KEY[:9], API_KEY[9:], " — keep it."]
    fake_llm.reply("openai", Reply(chunks=pieces, token_delay_s=0.08))

    result = await run(executor, chat_flow(prompt="key?", models=chain("openai:gpt")))

    events = await progress(bus, result)
    assert len(events) >= 3  # the pieces came in separate batches
    assert tokens(events) == "The key is *** — keep it."
    assert API_KEY[:9] not in str(events)


async def test_the_batcher_holds_back_what_may_begin_a_secret(vault: Vault) -> None:
    sent: list[dict[str, Any]] = []
    batcher = TokenBatcher(sent.append, interval_s=0.01, redaction=vault)

    batcher.add("key: " + API_KEY[:5])
    await asyncio.sleep(0.03)
    assert sent == [{"token": "key: "}]
    batcher.add(API_KEY[5:] + " ok")
    await asyncio.sleep(0.03)
    assert sent[-1] == {"token": "*** ok"}
    batcher.add("sk-")
    batcher.flush()  # the end of the stream sends everything
    assert sent[-1] == {"token": "sk-"}


async def test_a_whole_secret_is_not_cut_where_another_could_begin() -> None:
    vault = Vault([to_fernet_key(generate_key())])
    vault.remember(["first-secret-x", "x-second-secret"])
    sent: list[dict[str, Any]] = []
    batcher = TokenBatcher(sent.append, interval_s=0.01, redaction=vault)

    batcher.add("a first-secret-x")
    await asyncio.sleep(0.03)
    batcher.flush()

    assert "".join(e["token"] for e in sent) == "a ***"
