from __future__ import annotations

import pytest

from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.memory import MemoryStore
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES


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
