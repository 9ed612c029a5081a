"""API test fixtures: a real Server on SQLite (tmp dir) or PostgreSQL, driven over HTTP.

Every API test runs on both databases: ``server`` is parametrized by ``database``.
PostgreSQL runs on 127.0.0.1:5432 (trust auth) on the machines this project targets; one
fresh database is created per test session and emptied before each test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tav.api.app import create_app
from tav.app.root import build
from tav.app.server import Server
from tav.core.roles import Role
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tav.settings import Settings
from tav.storage.models import Base
from tests.api.team import Member, make_team


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(database: str, tmp_path, request: pytest.FixtureRequest) -> Settings:
    url = None
    if database == "postgresql":
        url = request.getfixturevalue("postgres_url")
    return Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        retention_max_age_days=None,
        retention_max_count=None,
    )


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    server = Server(
        build(settings, registry=NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES]))
    )
    if not server.parts.db.is_sqlite:
        await server.parts.db.migrate()
        await _empty(server)
    await server.start(prune=False)
    yield server
    await server.stop(timeout_s=0)


async def _empty(server: Server) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with server.parts.db.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture
async def anonymous(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials."""
    app = create_app(server.settings, server=server)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


@pytest.fixture
async def client(server: Server, anonymous: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client authenticated with an API key."""
    _, secret = await server.parts.auth.create_api_key("tests")
    anonymous.headers["Authorization"] = f"Bearer {secret}"
    return anonymous


@pytest.fixture
async def team(server: Server) -> dict[Role, Member]:
    """The owner, an admin, an editor and a viewer, each with an API key (``make_team``)."""
    return await make_team(server)


@pytest.fixture
def app(server: Server) -> FastAPI:
    """The HTTP app over ``server``, for clients of the test's own (``as_key``)."""
    return create_app(server.settings, server=server)
