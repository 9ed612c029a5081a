"""Tokens are coalesced into few ``node.progress`` events, none held back long."""

from __future__ import annotations

import asyncio
from typing import Any

from tav.ai.streaming import TokenBatcher
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import run
from tests.unit.ai.helpers import chain, chat_flow, progress, tokens


async def test_tokens_within_the_interval_go_out_together() -> None:
    sent: list[dict[str, Any]] = []
    batcher = TokenBatcher(sent.append, interval_s=0.05)

    for token in ("a", "b", "c"):
        batcher.add(token)
    assert sent == []
    await asyncio.sleep(0.08)
    assert sent == [{"token": "abc"}]
    batcher.add("d")
    batcher.flush()
    assert sent == [{"token": "abc"}, {"token": "d"}]


async def test_discarding_tells_watchers_only_when_something_was_sent() -> None:
    sent: list[dict[str, Any]] = []
    batcher = TokenBatcher(sent.append)
    batcher.add("unsent")
    batcher.discard()
    assert sent == []
    batcher.add("x")
    batcher.flush()
    batcher.discard()
    assert sent == [{"token": "x"}, {"discard": True}]


async def test_a_long_answer_makes_few_events(
    executor: Executor, bus: InMemoryBus, fake_llm: FakeProviders
) -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    fake_llm.reply("openai", Reply(text=text))

    result = await run(executor, chat_flow(prompt="go", models=chain("openai:m")))

    events = await progress(bus, result)
    assert tokens(events) == text
    assert len(events) < 100  # 2000 tokens
