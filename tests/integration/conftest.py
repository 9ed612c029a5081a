"""A server of the test's own, in-process, on a temporary SQLite data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tav.app.root import build
from tav.app.server import Server
from tav.settings import Settings
from tests.integration.triggers import settings


@pytest.fixture
def config(tmp_path: Path) -> Settings:
    return settings(tmp_path)


@pytest.fixture
async def server(config: Settings) -> AsyncIterator[Server]:
    server = Server(build(config))
    await server.start(prune=False)
    yield server
    await server.stop(timeout_s=0)
