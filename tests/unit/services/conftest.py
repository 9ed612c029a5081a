"""Service nodes run by an executor whose services point at servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tav.engine.executor import Executor
from tav.nodes.registry import NodeRegistry
from tav.services import ServiceConfig, build_services
from tav.storage.files import FileStore
from tests.fakes.secrets import MemorySecrets


@pytest.fixture
def httpserver(httpserver_ipv4: HTTPServer) -> HTTPServer:
    """The server bound to 127.0.0.1, so no test depends on how 'localhost' resolves."""
    return httpserver_ipv4


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def config(httpserver: HTTPServer) -> ServiceConfig:
    return ServiceConfig(
        slack_api_url=httpserver.url_for("/slack/api"),
        discord_api_url=httpserver.url_for("/discord/api/v10"),
        telegram_api_url=httpserver.url_for("/telegram"),
        timeout_s=5,
    )


@pytest.fixture
def executor(
    registry: NodeRegistry,
    config: ServiceConfig,
    http: httpx.AsyncClient,
    memory_secrets: MemorySecrets,
    file_store: FileStore,
) -> Executor:
    services = replace(build_services(config, http), files=file_store)
    return Executor(registry, services=services, secrets=memory_secrets)
