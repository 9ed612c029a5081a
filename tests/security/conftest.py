"""Security test fixtures: a real Server on a temporary SQLite data dir, driven over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tav.api.app import create_app
from tav.app.root import build
from tav.app.server import Server
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tav.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", retention_max_age_days=None, retention_max_count=None
    )


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    server = Server(
        build(settings, registry=NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES]))
    )
    await server.start(prune=False)
    yield server
    await server.stop(timeout_s=0)


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client authenticated with an API key."""
    _, secret = await server.parts.auth.create_api_key("tests")
    app = create_app(server.settings, server=server)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", headers=headers
    ) as client:
        yield client
