"""Embeddings from each provider kind that has them, with the same fallback."""

from __future__ import annotations

import math

import pytest

from tav.engine.executor import Executor
from tests.fakes.llm import EMBED_DIM, FakeProviders, Reply, embed_text
from tests.helpers import run
from tests.unit.ai.helpers import ask_flow, chain, output

TEXTS = ["the cat sat on the mat", "a cat sat on a mat", "stock prices fell sharply"]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    )


@pytest.mark.parametrize("kind", ["openai", "openai_compatible", "ollama", "google"])
async def test_each_provider_embeds_texts(
    kind: str, executor: Executor, fake_llm: FakeProviders
) -> None:
    result = await run(executor, ask_flow(embed={"models": chain(f"{kind}:emb"), "texts": TEXTS}))

    answer = output(result, "ask")
    assert (answer["provider"], answer["model"]) == (kind, "emb")
    vectors = answer["vectors"]
    assert [len(v) for v in vectors] == [EMBED_DIM] * 3
    assert vectors[0] == pytest.approx(embed_text(TEXTS[0]))
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])


async def test_embeddings_fall_back_and_skip_a_kind_without_them(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("openai", Reply(status=500))
    models = chain("openai:emb", "anthropic:claude", "ollama:nomic")

    result = await run(executor, ask_flow(embed={"models": models, "texts": TEXTS}))

    attempts = output(result, "ask")["attempts"]
    assert [a["outcome"] for a in attempts] == ["failed", "failed", "answered"]
    assert "offers no embeddings" in attempts[1]["error"]


async def test_every_embedding_provider_failing_is_an_embedding_error(
    executor: Executor, fake_llm: FakeProviders
) -> None:
    fake_llm.reply("ollama", Reply(status=500))

    result = await run(executor, ask_flow(embed={"models": chain("ollama:e"), "texts": ["x"]}))

    error = result.nodes["ask"].error
    assert error is not None
    assert error.type == "embedding_failed"
