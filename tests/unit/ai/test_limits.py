"""Per-credential limits are shared by every execution; usage is counted and summed."""

from __future__ import annotations

import asyncio
import time

import pytest

from tav.ai import AIConfig, Limit
from tav.ai.limits import Limits
from tav.engine.executor import Executor
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import node, run, workflow
from tests.unit.ai.helpers import chain, chat_flow, output

SLOW = Reply(text="done", delay_s=0.3)


@pytest.fixture
def ai_config() -> AIConfig:
    return AIConfig(timeout_s=5, limit=Limit(max_concurrent=8), limits={"openai": Limit(1)})


async def test_concurrent_calls_of_one_credential_are_capped_across_executions(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    flow = lambda kind: chat_flow(prompt="hi", models=chain(f"{kind}:m"))  # noqa: E731
    for kind in ("openai", "anthropic"):  # the first call loads the provider's package
        await run(executor, flow(kind))
    fake_llm.reply("openai", *[SLOW] * 3)
    fake_llm.reply("anthropic", *[SLOW] * 3)

    started = time.monotonic()
    results = await asyncio.gather(*(run(executor, flow("openai")) for _ in range(3)))
    capped = time.monotonic() - started
    started = time.monotonic()
    await asyncio.gather(*(run(executor, flow("anthropic")) for _ in range(3)))
    free = time.monotonic() - started

    assert all(output(r)["text"] == "done" for r in results)
    assert fake_llm.max_in_flight["openai"] == 1
    assert fake_llm.max_in_flight["anthropic"] == 3
    assert capped >= 0.85
    assert free < 0.8


async def test_requests_per_minute_make_calls_wait_for_the_window() -> None:
    config = AIConfig(limit=Limit(None, requests_per_minute=2), rate_window_s=0.4)
    limits = Limits(config)
    starts: list[float] = []

    async def call() -> None:
        async with limits.slot("c"):
            starts.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(call() for _ in range(5)))

    offsets = sorted(round(s - began, 1) for s in starts)
    assert offsets[:2] == [0.0, 0.0]
    assert 0.35 <= offsets[2] <= 0.6
    assert 0.35 <= offsets[3] <= 0.6
    assert 0.75 <= offsets[4] <= 1.0


async def test_limits_follow_a_new_configuration() -> None:
    limits = Limits(AIConfig(limit=Limit(1)))
    limits.configure(AIConfig(limit=Limit(3)))
    async with limits.slot("c"), limits.slot("c"), limits.slot("c"):
        assert limits.in_use("c") == 3


async def test_usage_is_counted_on_each_node_and_summed_on_the_execution(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("openai", Reply(text="a", usage=(10, 2)), Reply(text="b", usage=(20, 3)))
    models = chain("openai:m")
    flow = workflow(
        node("start", "trigger.manual"),
        node("one", "ai.llm_chat", params={"prompt": "1", "models": models}),
        node("two", "ai.llm_chat", params={"prompt": "2", "models": models}),
        links=("start -> one", "one -> two"),
    )

    result = await run(executor, flow)

    assert result.nodes["one"].usage == {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
    assert result.nodes["two"].usage == {"input_tokens": 20, "output_tokens": 3, "total_tokens": 23}
    assert result.usage == {"input_tokens": 30, "output_tokens": 5, "total_tokens": 35}
