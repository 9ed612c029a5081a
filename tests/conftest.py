from __future__ import annotations

from collections.abc import Iterator

import pytest

from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.memory import MemoryStore
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tests.fakes.llm import FakeProviders


@pytest.fixture
def registry() -> NodeRegistry:
    return NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES])


@pytest.fixture
def bus() -> InMemoryBus:
    return InMemoryBus()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def executor(registry: NodeRegistry, bus: InMemoryBus, store: MemoryStore) -> Executor:
    return Executor(registry, bus=bus, store=store)


@pytest.fixture
def fake_llm() -> Iterator[FakeProviders]:
    """Fake OpenAI, Anthropic, Ollama and Gemini servers on 127.0.0.1 (``tests.fakes.llm``)."""
    with FakeProviders() as fake:
        yield fake
