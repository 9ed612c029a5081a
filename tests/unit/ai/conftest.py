"""Fixtures of the AI tests: real LangChain clients against the fake provider servers,
through an executor whose host supplies ``AIServices`` and in-memory credentials."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from tav.ai import AIConfig, AIServices, MemoryResponseCache
from tav.ai.providers import BY_KIND, PROVIDERS
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.memory import MemoryStore
from tav.nodes.ai import ChatRequest, ModelRef
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.context import NodeContext
from tav.nodes.host import CHAT_MODELS, EMBEDDINGS, HostServices
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tests.fakes.llm import FakeProviders
from tests.fakes.secrets import MemorySecrets

API_KEY = "sk-test-4f9a1c2e7b3d5a6f"
"""The key every test credential carries: it must never show up anywhere."""


@pytest.fixture
def secrets(fake_llm: FakeProviders) -> MemorySecrets:
    """One credential per provider kind, named after it, pointing at the fake servers."""
    vault = MemorySecrets()
    for provider in PROVIDERS:
        vault.add(provider.kind, provider.kind, **provider_data(provider.kind, fake_llm))
    return vault


def provider_data(kind: str, fake_llm: FakeProviders) -> dict[str, Any]:
    """A credential of ``kind`` pointing at the fake servers, carrying ``API_KEY`` in
    whichever secret field the kind has for it (a key, or headers)."""
    fields = BY_KIND[kind].credential.model_fields
    data: dict[str, Any] = {"base_url": fake_llm.url(kind)}
    if "api_key" in fields:
        data["api_key"] = API_KEY
    elif "headers" in fields:
        data["headers"] = {"X-Key": API_KEY}
    return data


@pytest.fixture
def ai_config() -> AIConfig:
    return AIConfig(timeout_s=5, breaker_failures=3, breaker_cooldown_s=30)


@pytest.fixture
def ai(ai_config: AIConfig) -> AIServices:
    return AIServices(ai_config, cache=MemoryResponseCache())


@pytest.fixture
def executor(
    registry: NodeRegistry,
    bus: InMemoryBus,
    store: MemoryStore,
    secrets: MemorySecrets,
    ai: AIServices,
) -> Executor:
    return Executor(
        registry,
        bus=bus,
        store=store,
        secrets=secrets,
        services=HostServices(chat_models=ai, embeddings=ai),
    )


class AskParams(BaseModel):
    chat: dict[str, Any] | None = None
    embed: dict[str, Any] | None = None


class Ask(Node):
    """Hands its params to the host's ``ChatModels`` (``chat``: a ``ChatRequest``) or
    ``Embeddings`` (``embed``: ``{models, texts}``) and outputs the response."""

    spec = NodeSpec(type="testai.ask")
    Params = AskParams
    inputs = {"input": Port(required=False)}

    async def run(self, params: AskParams, input: Any, ctx: NodeContext) -> Outputs:
        if params.chat is not None:
            request = ChatRequest.model_validate(params.chat)
            response = await ctx.service(CHAT_MODELS).chat(ctx, request)
            return {"output": response.model_dump(mode="json")}
        assert params.embed is not None
        models = [ModelRef.model_validate(m) for m in params.embed.get("models", [])]
        service = ctx.service(EMBEDDINGS)
        embedded = await service.embed(ctx, models, params.embed["texts"])
        return {"output": embedded.model_dump(mode="json")}


@pytest.fixture
def registry() -> NodeRegistry:
    return NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES, Ask])
