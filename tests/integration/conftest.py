"""A server of the test's own, in-process, on a temporary SQLite data dir; a real
``tav serve`` over one (``tav``, started by the test); a local HTTP server that counts
side effects (``recorder``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tav.app.root import build
from tav.app.server import Server
from tav.settings import Settings
from tests.integration.test_durability import Recorder, Tav
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


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    recorder.thread.start()
    yield recorder
    recorder.http.shutdown()
    recorder.http.server_close()


@pytest.fixture
def tav(tmp_path: Path) -> Iterator[Tav]:
    served = Tav(tmp_path / "data", tmp_path / "serve.log", TAV_SHUTDOWN_TIMEOUT_S="2")
    yield served
    served.kill()
    assert "Traceback" not in served.log.read_text(), served.log.read_text()
