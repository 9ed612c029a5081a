"""A team of one member per role, each with an API key and a password, for the API tests
of roles; clients that act as one of them, by key or by a signed-in browser session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from tav.app.server import Server
from tav.core.roles import Role

PASSWORD = "correct horse battery"
ORIGIN = "http://localhost"


@dataclass(frozen=True)
class Member:
    id: str
    email: str
    role: Role
    key: str
    """The secret of an API key of theirs."""


async def make_team(server: Server) -> dict[Role, Member]:
    """The owner, an admin, an editor and a viewer (``<role>@example.com``), each with a
    key, made as the CLI would make them."""
    auth, users = server.parts.auth, server.parts.users_service
    team = {}
    for role in Role:
        email = f"{role}@example.com"
        if role is Role.owner:
            user = await auth.create_owner(email, PASSWORD)
        else:
            user = await users.create(email, PASSWORD, role)
        _, key = await auth.create_api_key(f"{role}'s key", user.id)
        team[role] = Member(user.id, email, role, key)
    return team


def as_key(app: FastAPI, key: str) -> httpx.AsyncClient:
    """A client sending ``key`` with every request."""
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=headers)


def browser(app: FastAPI) -> httpx.AsyncClient:
    """A browser of the editor's own origin, not signed in yet (cookies kept)."""
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"Origin": ORIGIN})


@asynccontextmanager
async def signed_in(
    app: FastAPI, email: str, password: str = PASSWORD
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as ``email``."""
    async with browser(app) as client:
        body = {"email": email, "password": password}
        response = await client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, response.text
        yield client
