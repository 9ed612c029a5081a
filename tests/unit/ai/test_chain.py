"""Fallback along a model chain: errors, 429 with Retry-After, timeouts, open circuits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tav.ai import AIConfig
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import run
from tests.unit.ai.helpers import chain, chat_flow, output, progress, tokens

TWO = chain("openai:gpt-x", "anthropic:claude-y")


def outcomes(result) -> list[tuple[str, str]]:
    return [(a["provider"] or a["credential"], a["outcome"]) for a in output(result)["attempts"]]


async def test_a_server_error_moves_on_to_the_next_provider(
    executor: Executor, bus: InMemoryBus, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("openai", Reply(status=500))

    result = await run(executor, chat_flow(prompt="hi", models=TWO))

    answer = output(result)
    assert (answer["provider"], answer["model"], answer["text"]) == (
        "anthropic",
        "claude-y",
        "echo: hi",
    )
    assert outcomes(result) == [("openai", "failed"), ("anthropic", "answered")]
    failed = answer["attempts"][0]
    assert failed["error"].startswith("HTTP 500")
    assert failed["duration_ms"] < 2000
    events = await progress(bus, result)
    assert {"attempt": {**failed}} in events
    assert tokens(events) == "echo: hi"


async def test_a_429_moves_on_and_holds_the_credential_off_until_retry_after(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("openai", Reply(status=429, headers={"Retry-After": "30"}))

    first = await run(executor, chat_flow(prompt="hi", models=TWO))
    second = await run(executor, chat_flow(prompt="again", models=TWO))

    assert outcomes(first) == [("openai", "rate_limited"), ("anthropic", "answered")]
    assert outcomes(second) == [("openai", "rate_limited"), ("anthropic", "answered")]
    assert "Retry-After" in output(second)["attempts"][0]["error"]
    assert len(fake_llm.requests_to("openai")) == 1  # not called again before Retry-After


async def test_a_short_retry_after_lets_the_credential_answer_again(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("openai", Reply(status=429, headers={"Retry-After": "0.3"}))
    await run(executor, chat_flow(prompt="hi", models=TWO))
    await asyncio.sleep(0.35)

    again = await run(executor, chat_flow(prompt="hi", models=TWO))

    assert outcomes(again) == [("openai", "answered")]


async def test_a_timeout_moves_on_and_is_recorded(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("openai", Reply(text="late", delay_s=3))
    started = time.monotonic()

    result = await run(executor, chat_flow(prompt="hi", models=TWO, timeout_s=0.5))

    assert time.monotonic() - started < 2.5
    assert outcomes(result) == [("openai", "timeout"), ("anthropic", "answered")]
    assert output(result)["attempts"][0]["error"] == "no answer within 0.5 s"


async def test_a_stalled_stream_times_out_and_its_tokens_are_discarded(
    executor: Executor, bus: InMemoryBus, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("openai", Reply(text="one two three four", token_delay_s=0.4))

    result = await run(executor, chat_flow(prompt="hi", models=TWO, timeout_s=0.3))

    assert outcomes(result) == [("openai", "timeout"), ("anthropic", "answered")]
    events = await progress(bus, result)
    assert tokens(events) == "echo: hi" or {"discard": True} in events


async def test_a_slow_stream_that_keeps_coming_is_not_cut_off(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("openai", Reply(text="a b c d e f", token_delay_s=0.1))

    result = await run(executor, chat_flow(prompt="hi", models=TWO, timeout_s=0.5))

    assert output(result)["text"] == "a b c d e f"  # 0.8 s in all, never 0.5 s idle


async def test_when_every_provider_fails_the_error_lists_why(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("openai", Reply(status=500))
    fake_llm.reply("anthropic", Reply(status=429))

    result = await run(executor, chat_flow(prompt="hi", models=TWO))

    error = result.nodes["chat"].error
    assert error is not None
    assert error.type == "llm_all_failed"
    assert "openai 'openai' model 'gpt-x': failed (HTTP 500" in error.message
    assert "anthropic 'anthropic' model 'claude-y': rate_limited" in error.message


async def test_a_single_failing_provider_fails_the_node_with_llm_failed(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("ollama", Reply(status=500))

    result = await run(executor, chat_flow(prompt="hi", models=chain("ollama:llama3")))

    error = result.nodes["chat"].error
    assert error is not None
    assert error.type == "llm_failed"
    assert error.retryable


async def test_an_unknown_credential_is_a_failed_link(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    models = chain("nope:gpt", "openai:gpt")

    result = await run(executor, chat_flow(prompt="hi", models=models))

    assert outcomes(result) == [("nope", "failed"), ("openai", "answered")]
    assert "no credential with id 'nope'" in output(result)["attempts"][0]["error"]


@pytest.fixture
def ai_config() -> AIConfig:
    return AIConfig(timeout_s=5, breaker_failures=2, breaker_cooldown_s=0.5)


async def test_the_circuit_opens_after_consecutive_failures_and_closes_after_cool_down(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("openai", Reply(status=500), Reply(status=503))
    for _ in range(2):
        await run(executor, chat_flow(prompt="hi", models=TWO))

    skipped = await run(executor, chat_flow(prompt="hi", models=TWO))

    assert outcomes(skipped) == [("openai", "skipped"), ("anthropic", "answered")]
    assert "circuit open" in output(skipped)["attempts"][0]["error"]
    assert len(fake_llm.requests_to("openai")) == 2
    await asyncio.sleep(0.55)
    recovered = await run(executor, chat_flow(prompt="hi", models=TWO))
    assert outcomes(recovered) == [("openai", "answered")]


async def test_the_circuit_is_per_model(executor: Executor, fake_llm: FakeProviders) -> None:
    fake_llm.reply("openai", Reply(status=500), Reply(status=500))
    for _ in range(2):
        await run(executor, chat_flow(prompt="hi", models=TWO))

    other_model = await run(executor, chat_flow(prompt="hi", models=chain("openai:gpt-z")))

    assert outcomes(other_model) == [("openai", "answered")]


async def test_a_bug_of_ours_is_not_tried_on_the_next_link_and_keeps_its_traceback(
    executor: Executor,
    fake_llm: FakeProviders,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tav.ai import services

    real_ask = services.ask

    async def ask(link: Any, *args: Any, **kwargs: Any) -> Any:
        if link.provider == "openai":
            return buggy_link(link)
        return await real_ask(link, *args, **kwargs)

    def buggy_link(link: Any) -> Any:
        return link.ref.model + 1  # TypeError: a bug, not the provider's failure

    monkeypatch.setattr(services, "ask", ask)

    result = await run(executor, chat_flow(prompt="hi", models=TWO))

    error = result.nodes["chat"].error
    assert error is not None
    assert (error.type, error.message.split(":")[0]) == ("exception", "TypeError")
    assert fake_llm.requests_to("anthropic") == []  # not hidden behind the next link
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is TypeError]
    assert logged, caplog.text
    assert "buggy_link" in caplog.text  # the traceback, down to the frame that raised
