"""Cross-site requests, DNS rebinding and the first owner, over HTTP through the app.

- Every unsafe route under /api/v1 that takes credentials refuses a session cookie sent
  from another origin (or from nowhere said), takes it from the server's own origin (or a
  configured public one), and takes an API key from anywhere.
- Every route, API, webhooks, docs and editor, answers 400 to a Host it is not configured
  for, before anything else.
- The owner account is created without the setup token only from this machine; otherwise
  the token ``tav serve`` printed is needed, and it is used once.

The API's operations come from the OpenAPI document (FastAPI generates it from the
routes; ``app.routes`` holds the included routers only as wrappers), the other routes
from ``app.routes``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from tav.api.app import PUBLIC_ROUTES, create_app
from tav.app.server import Server
from tav.settings import Settings

OWNER = {"email": "owner@example.com", "password": "correct horse"}
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
EVIL = "http://evil.example"
LOCAL = "http://localhost"
PUBLIC_ORIGIN = "https://tav.example.com"
REMOTE_CLIENT = ("203.0.113.9", 40000)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        retention_max_age_days=None,
        retention_max_count=None,
        allowed_hosts=["tav.internal"],
    )


@pytest.fixture
def app(server: Server) -> FastAPI:
    return create_app(server.settings, server=server)


def app_with(server: Server, **changes: object) -> FastAPI:
    """The app of ``server`` with these settings changed."""
    server.settings = server.settings.model_copy(update=changes)
    return create_app(server.settings, server=server)


def client_for(
    app: FastAPI, base_url: str = LOCAL, client: tuple[str, int] = ("127.0.0.1", 50000)
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=client)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The owner's browser on this machine, signed in by its session cookie."""
    async with client_for(app) as client:
        created = await client.post("/api/v1/auth/setup", json=OWNER)
        assert created.status_code == 201, created.text
        yield client


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0" * 32, path)


def api_operations(app: FastAPI) -> Iterator[tuple[str, str]]:
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            yield method.upper(), path


def unsafe_protected(app: FastAPI) -> list[tuple[str, str]]:
    found = [
        (method, fill(path))
        for method, path in api_operations(app)
        if method in UNSAFE and path not in PUBLIC_ROUTES
    ]
    assert len(found) > 20, found  # the whole API, not a part of it
    return found


def every_route(app: FastAPI) -> list[tuple[str, str]]:
    found = [(method, fill(path)) for method, path in api_operations(app)]
    for route in app.routes:
        if isinstance(route, Route):
            found += [(method, fill(route.path)) for method in sorted(route.methods or ())]
    found += [("GET", "/"), ("GET", "/workflows/" + "0" * 32), ("GET", "/assets/index.js")]
    return found


async def test_a_session_cookie_from_another_origin_is_refused_on_every_unsafe_route(
    app: FastAPI, browser: httpx.AsyncClient
) -> None:
    for method, path in unsafe_protected(app):
        response = await browser.request(method, path, json={}, headers={"Origin": EVIL})
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "cross_site_request", (method, path)
        missing = await browser.request(method, path, json={})
        assert missing.status_code == 403, (method, path, missing.text)
        assert missing.json()["error"]["code"] == "origin_required", (method, path)


async def test_a_session_cookie_from_the_servers_own_origin_is_taken_on_every_unsafe_route(
    app: FastAPI, browser: httpx.AsyncClient
) -> None:
    for method, path in unsafe_protected(app):
        response = await browser.request(method, path, json={}, headers={"Origin": LOCAL})
        assert response.status_code not in (401, 403), (method, path, response.text)


async def test_an_api_key_is_taken_from_any_origin_on_every_unsafe_route(
    app: FastAPI, server: Server
) -> None:
    _, key = await server.parts.auth.create_api_key("script")
    async with client_for(app) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        for method, path in unsafe_protected(app):
            response = await client.request(method, path, json={}, headers={"Origin": EVIL})
            assert response.status_code not in (401, 403), (method, path, response.text)


async def test_what_a_cross_site_page_did_before_is_refused(
    browser: httpx.AsyncClient, server: Server
) -> None:
    evil = {"Origin": EVIL}
    flow = {"schema": 1, "name": "x", "nodes": [{"id": "start", "type": "trigger.manual"}]}
    assert (await browser.post("/api/v1/workflows", json=flow, headers=evil)).status_code == 403
    minted = await browser.post("/api/v1/auth/api-keys", json={"name": "x"}, headers=evil)
    assert minted.status_code == 403
    assert await server.parts.auth.api_keys() == []
    # A body of no declared type (fetch with a Blob) is read as JSON by FastAPI: refused too.
    blob = await browser.post("/api/v1/workflows", content=b"{}", headers=evil)
    assert blob.status_code == 403
    # The editor itself works: same origin, then a Referer alone, then a public origin.
    stored = await browser.post("/api/v1/workflows", json=flow, headers={"Origin": LOCAL})
    assert stored.status_code == 201, stored.text
    referer = {"Referer": f"{LOCAL}/workflows/{stored.json()['id']}"}
    assert (await browser.post("/api/v1/workflows", json=flow, headers=referer)).is_success
    evil_referer = {"Referer": f"{EVIL}/page"}
    assert (await browser.post("/api/v1/workflows", json=flow, headers=evil_referer)).is_error
    sandboxed = {"Origin": "null"}
    assert (await browser.post("/api/v1/workflows", json=flow, headers=sandboxed)).is_error
    other_port = {"Origin": "http://localhost:3000"}
    assert (await browser.post("/api/v1/workflows", json=flow, headers=other_port)).is_error
    public = {"Origin": PUBLIC_ORIGIN}
    assert (await browser.post("/api/v1/workflows", json=flow, headers=public)).is_error


async def test_a_configured_public_origin_is_trusted(server: Server) -> None:
    """Behind a proxy that keeps the upstream's Host: the browser's origin is the public one."""
    app = app_with(server, public_origins=[PUBLIC_ORIGIN])
    await server.parts.auth.create_owner(OWNER["email"], OWNER["password"])
    flow = {"schema": 1, "name": "x", "nodes": [{"id": "start", "type": "trigger.manual"}]}
    async with client_for(app, "http://127.0.0.1:8000") as browser:
        assert (await browser.post("/api/v1/auth/login", json=OWNER)).status_code == 200
        public = {"Origin": PUBLIC_ORIGIN}
        assert (await browser.post("/api/v1/workflows", json=flow, headers=public)).is_success
        evil = {"Origin": EVIL}
        assert (await browser.post("/api/v1/workflows", json=flow, headers=evil)).is_error


async def test_sign_in_and_setup_from_another_origin_are_refused(
    app: FastAPI, server: Server
) -> None:
    async with client_for(app) as client:
        setup = await client.post("/api/v1/auth/setup", json=OWNER, headers={"Origin": EVIL})
        assert setup.status_code == 403
        assert setup.json()["error"]["code"] == "cross_site_request"
        assert not await server.parts.auth.has_owner()
        assert (await client.post("/api/v1/auth/setup", json=OWNER)).status_code == 201
        login = await client.post("/api/v1/auth/login", json=OWNER, headers={"Origin": EVIL})
        assert login.status_code == 403
        assert "set-cookie" not in login.headers


async def test_every_route_refuses_a_host_it_is_not_configured_for(app: FastAPI) -> None:
    routes = every_route(app)
    assert any(path.startswith("/webhook/") for _, path in routes)
    async with client_for(app, base_url="http://rebind.evil.example:8000") as client:
        for method, path in routes:
            response = await client.request(method, path)
            assert response.status_code == 400, (method, path, response.text)
            if method == "HEAD":
                continue
            error = response.json()["error"]
            assert error["code"] == "host_not_allowed"
            assert "Host not allowed" in error["message"]


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:8000",
        "127.0.0.1:1234",
        "[::1]:8000",
        "tav.internal",  # TAV_ALLOWED_HOSTS
        "tav.example.com",  # the host of TAV_PUBLIC_ORIGINS
    ],
)
async def test_the_configured_hosts_are_answered(server: Server, host: str) -> None:
    app = app_with(server, public_origins=[PUBLIC_ORIGIN])
    async with client_for(app) as client:
        response = await client.get("/api/v1/auth/status", headers={"Host": host})
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io", ""])
async def test_other_hosts_are_refused(app: FastAPI, host: str) -> None:
    async with client_for(app) as client:
        response = await client.get("/api/v1/auth/status", headers={"Host": host})
        assert response.status_code == 400


def test_the_default_answers_only_localhost_names(tmp_path: Path) -> None:
    from tav.api.origins import HostPolicy

    policy = HostPolicy.from_settings(Settings(data_dir=tmp_path))
    assert all(policy.allows(name) for name in ("localhost", "127.0.0.1", "::1"))
    assert not policy.allows("evil.example")
    assert not policy.allows("testserver")
    assert HostPolicy(["*"]).allows("anything.example")
    assert HostPolicy(["*.example.com"]).allows("tav.example.com")
    assert not HostPolicy(["*.example.com"]).allows("example.com.evil")


async def test_setup_through_a_rebinding_host_is_refused(app: FastAPI, server: Server) -> None:
    async with client_for(app, base_url="http://rebind.evil.example:8000") as client:
        response = await client.post("/api/v1/auth/setup", json=OWNER)
    assert response.status_code == 400
    assert not await server.parts.auth.has_owner()


async def test_setup_from_another_machine_needs_the_printed_token(
    app: FastAPI, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    from tav.api.routes.auth import prepare_setup

    await prepare_setup(server.parts.auth)  # as at start: the token is issued and printed
    token_file = server.settings.data_dir / "setup-token"
    token = token_file.read_text().strip()
    assert token in caplog.text
    assert str(token_file) in caplog.text
    assert token_file.stat().st_mode & 0o777 == 0o600
    async with client_for(app, "http://tav.internal", REMOTE_CLIENT) as remote:
        status = (await remote.get("/api/v1/auth/status")).json()
        assert status["setup_token_required"] is True
        assert status["setup_token_file"] == str(token_file)
        missing = await remote.post("/api/v1/auth/setup", json=OWNER)
        assert missing.status_code == 403
        assert missing.json()["error"]["code"] == "setup_token_required"
        assert str(token_file) in missing.json()["error"]["message"]
        wrong = await remote.post("/api/v1/auth/setup", json={**OWNER, "setup_token": "guess"})
        assert wrong.status_code == 403
        assert wrong.json()["error"]["code"] == "setup_token_invalid"
        assert not await server.parts.auth.has_owner()
        created = await remote.post("/api/v1/auth/setup", json={**OWNER, "setup_token": token})
        assert created.status_code == 201, created.text
        assert (await remote.get("/api/v1/auth/status")).json()["setup_required"] is False
    assert not token_file.exists()  # used once


@pytest.mark.parametrize(
    ("base_url", "client", "headers"),
    [
        # The server bound to 0.0.0.0, a browser on the network, a name it answers.
        ("http://tav.internal:8000", REMOTE_CLIENT, {}),
        # ... or an address of this machine that is not loopback.
        ("http://localhost:8000", REMOTE_CLIENT, {}),
        # A proxy on this machine: it connects from 127.0.0.1 for someone else.
        ("http://localhost:8000", ("127.0.0.1", 50000), {"X-Forwarded-For": "198.51.100.7"}),
        ("http://127.0.0.1:8000", ("127.0.0.1", 50000), {"Forwarded": "for=198.51.100.7"}),
        # This machine, but a name other machines use.
        ("http://tav.internal:8000", ("127.0.0.1", 50000), {}),
    ],
)
async def test_setup_without_the_token_is_refused_unless_from_this_machine(
    app: FastAPI, server: Server, base_url: str, client: tuple[str, int], headers: dict[str, str]
) -> None:
    async with client_for(app, base_url, client) as remote:
        status = (await remote.get("/api/v1/auth/status", headers=headers)).json()
        assert status["setup_token_required"] is True
        response = await remote.post("/api/v1/auth/setup", json=OWNER, headers=headers)
    assert response.status_code == 403, response.text
    assert not await server.parts.auth.has_owner()


async def test_with_public_origins_set_even_this_machine_needs_the_token(
    server: Server,
) -> None:
    # A proxy that keeps the upstream's Host (127.0.0.1:8000) and adds no header at all.
    app = app_with(server, public_origins=[PUBLIC_ORIGIN])
    async with client_for(app, "http://127.0.0.1:8000") as proxied:
        response = await proxied.post("/api/v1/auth/setup", json=OWNER)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "setup_token_required"


async def test_local_setup_can_be_turned_off(server: Server) -> None:
    app = app_with(server, local_setup=False)
    async with client_for(app) as local:
        assert (await local.get("/api/v1/auth/status")).json()["setup_token_required"] is True
        assert (await local.post("/api/v1/auth/setup", json=OWNER)).status_code == 403
