"""Every route under /api/v1 declares the role it needs, the roles declared are the
policy, and over HTTP each role gets each route or a 403 naming the role needed.

The routes are found by walking the app's own routes (HTTP and WebSocket), so a route
added later without a rule fails here, and one whose rule differs from the policy too.

The policy: reading (GET, HEAD, opening a WebSocket) needs viewer, every other method
editor; but the team (``/users``, ``/invites``) needs admin for everything, changing the
runtime settings needs admin, and the caller's own account (``/auth/me``, own API keys)
and checking a workflow document (``POST /workflows/validate``, which stores nothing) are
every role's. The public routes (sign in, accept an invite) take no role at all.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute

from tav.api.access import rule_of
from tav.api.app import API_PREFIX, PUBLIC_ROUTES, create_app
from tav.core.roles import Role
from tav.settings import Settings
from tests.api.team import Member, as_key

READS = frozenset({"GET", "HEAD", "WEBSOCKET"})


@pytest.fixture
def database() -> str:
    """Roles are checked before any query: one database is enough here."""
    return "sqlite"


def policy(method: str, path: str) -> Role:
    """The role a route should need (the module's docstring says it in words)."""
    if path.startswith((f"{API_PREFIX}/users", f"{API_PREFIX}/invites")):
        return Role.admin
    if path == f"{API_PREFIX}/settings" and method not in READS:
        return Role.admin
    if path.startswith(f"{API_PREFIX}/auth/") or path == f"{API_PREFIX}/workflows/validate":
        return Role.viewer  # one's own account; checking a document stores nothing
    if path.endswith("/mcp-tools"):
        return Role.editor  # listing an MCP server's tools may start it
    if path.endswith("/waits/{node_id}"):
        return Role.viewer  # the wait says who may decide it (an approver may be a viewer)
    return Role.viewer if method in READS else Role.editor


def api_routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """``(method, path, dependant)`` of every route of the app under the API prefix,
    included routers' too (FastAPI keeps those behind wrappers that list their routes)."""

    def walk(items: list[Any]) -> Iterator[tuple[str, str, Any]]:
        for item in items:
            if hasattr(item, "effective_candidates"):
                yield from walk(item.effective_candidates())
                continue
            route = getattr(item, "starlette_route", None) or item
            path = getattr(item, "path", "") or getattr(route, "path", "")
            dependant = getattr(item, "dependant", None) or getattr(route, "dependant", None)
            if isinstance(route, APIWebSocketRoute):
                methods = {"WEBSOCKET"}
            else:
                methods = getattr(item, "methods", None) or getattr(route, "methods", None) or set()
            for method in sorted(methods - {"HEAD", "OPTIONS"}):
                yield method, path, dependant

    for method, path, dependant in walk(list(app.router.routes)):
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            yield method, path, dependant


@pytest.fixture
def plain_app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path / "data"))


def test_every_api_route_declares_the_role_it_needs(plain_app: FastAPI) -> None:
    found = list(api_routes(plain_app))
    assert len(found) > 60, found  # the whole API, not a part of it
    undeclared = [
        (method, path)
        for method, path, dependant in found
        if path not in PUBLIC_ROUTES and not rule_of(dependant)
    ]
    assert undeclared == [], "routes with no role: add requires(...) to their router"


def test_the_public_routes_need_no_role(plain_app: FastAPI) -> None:
    public = [(m, p) for m, p, d in api_routes(plain_app) if p in PUBLIC_ROUTES]
    assert {p for _, p in public} == PUBLIC_ROUTES
    assert [(m, p) for m, p, d in api_routes(plain_app) if p in PUBLIC_ROUTES and rule_of(d)] == []


def test_the_roles_declared_are_the_policy(plain_app: FastAPI) -> None:
    differing = []
    for method, path, dependant in api_routes(plain_app):
        if path in PUBLIC_ROUTES:
            continue
        rules = rule_of(dependant)
        needed = max((rule.needed(method) for rule in rules), key=list(reversed(Role)).index)
        if needed is not policy(method, path):
            differing.append((method, path, str(needed), str(policy(method, path))))
    assert differing == []


@pytest.fixture(params=list(Role), ids=str)
async def caller(
    request: pytest.FixtureRequest, app: FastAPI, team: dict[Role, Member]
) -> AsyncIterator[tuple[Role, httpx.AsyncClient]]:
    role = Role(request.param)
    async with as_key(app, team[role].key) as client:
        yield role, client


def fill(path: str) -> str:
    return re.sub(r"\{version\}", "1", re.sub(r"\{(?!version)[^}]+\}", "0" * 32, path))


async def test_each_role_gets_each_route_or_a_403_naming_the_role_needed(
    app: FastAPI, caller: tuple[Role, httpx.AsyncClient]
) -> None:
    role, client = caller
    wrong = []
    for method, path, _ in api_routes(app):
        if path in PUBLIC_ROUTES or method == "WEBSOCKET":
            continue
        needed = policy(method, path)
        body = {} if method not in READS else None
        response = await client.request(method, fill(path), json=body)
        if role.at_least(needed):
            if response.status_code in (401, 403):
                wrong.append((method, path, "refused", response.status_code, response.text))
            continue
        error = response.json().get("error", {}) if response.status_code == 403 else {}
        if (
            error.get("code") != "forbidden"
            or f"needs the {needed} role" not in error.get("message", "")
            or f"your role is {role}" not in error.get("message", "")
            or error.get("details") != {"required_role": str(needed), "role": str(role)}
        ):
            wrong.append((method, path, "not refused", response.status_code, response.text))
    assert wrong == []
