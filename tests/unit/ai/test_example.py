"""``examples/ai-chat.json`` runs with a default model chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tav.ai import AIConfig
from tav.engine.executor import Executor
from tav.engine.loader import load_workflow_file
from tav.nodes.ai import ModelRef
from tests.fakes.llm import FakeProviders, Reply
from tests.helpers import run

EXAMPLE = Path(__file__).parents[3] / "examples" / "ai-chat.json"


@pytest.fixture
def ai_config() -> AIConfig:
    return AIConfig(default_models=(ModelRef(credential="openai", model="gpt-4o-mini"),))


async def test_the_chat_example_answers(executor: Executor, fake_llm: FakeProviders) -> None:
    fake_llm.reply("openai", Reply(text="Because of Rayleigh scattering.", usage=(30, 6)))

    result = await run(executor, load_workflow_file(EXAMPLE), {"question": "Why is the sky blue?"})

    assert result.output == {
        "answer": "Because of Rayleigh scattering.",
        "answered_by": "openai/gpt-4o-mini",
        "tokens": 36,
    }
    [request] = fake_llm.requests
    assert request.json.get("max_completion_tokens", request.json.get("max_tokens")) == 300
