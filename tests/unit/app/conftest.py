"""The use-case services with their real collaborators (a SQLite database in a temporary
folder, the executor, the writer), as a server builds them; no HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tav.app.root import build
from tav.app.server import Server
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tav.settings import Settings


@pytest.fixture
def registry() -> NodeRegistry:
    return NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES])


@pytest.fixture
async def server(tmp_path: Path, registry: NodeRegistry) -> AsyncIterator[Server]:
    settings = Settings(
        data_dir=tmp_path / "data", retention_max_age_days=None, retention_max_count=None
    )
    server = Server(build(settings, registry=registry))
    await server.start(prune=False, triggers=False)
    yield server
    await server.stop(timeout_s=0)
