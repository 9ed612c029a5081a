"""The FastAPI application: ``create_app(settings)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from starlette.routing import Route

from tav.api import apidocs, errors, guide, openapi, resume, web, webhooks
from tav.api.deps import current_principal
from tav.api.gate import AuthGate
from tav.api.limits import BodyLimitMiddleware
from tav.api.mcp import PATH as MCP_PATH
from tav.api.mcp import McpEndpoint
from tav.api.origins import HostGuard, HostPolicy, OriginPolicy, public_origins
from tav.api.routes import (
    auth,
    collab,
    collections,
    credentials,
    executions,
    files,
    nodes,
    queue,
    settings,
    users,
    variables,
    waits,
    workflows,
)
from tav.api.throttle import LoginThrottle
from tav.app.root import build
from tav.app.server import Server
from tav.settings import Settings

TITLE = "TAV Engine"
API_PREFIX = "/api/v1"
MULTIPART_OVERHEAD = 64 * 1024
"""Room for the multipart framing around an upload of the largest size allowed."""
PUBLIC_ROUTES = frozenset(
    f"{API_PREFIX}/auth/{name}"
    for name in ("status", "setup", "login", "logout", "invite", "invite/accept")
)
"""The routes under the API prefix that take no credentials."""
CREDENTIALS_BODY_BYTES = 64 * 1024
"""Largest body of the setup and login routes: an email and a password."""


def create_app(config: Settings | None = None, *, server: Server | None = None) -> FastAPI:
    """The app over ``server`` (default: one over the parts ``tav.app.root`` builds from
    ``config``); its lifespan starts the server (migrations, writer, resumed executions)
    and stops it."""
    config = config or Settings()
    server = server or Server(build(config))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await server.start()
        await auth.prepare_setup(server.parts.auth)
        try:
            yield
        finally:
            await server.stop()

    app = FastAPI(
        title=TITLE,
        version="1",
        description="Local-first workflow automation for AI-powered automations.",
        lifespan=lifespan,
        docs_url=None,  # tav.api.apidocs serves them, without a CDN
        redoc_url=None,
    )
    app.state.server = server  # its lifecycle: `tav serve` drains it on SIGTERM
    app.state.parts = server.parts  # what the routes use (tav.api.deps)
    app.state.login_throttle = LoginThrottle(config)
    errors.install(app)
    openapi.install(app)  # the event stream's events, which FastAPI cannot see
    # Uploads may be larger than other bodies; the route checks the file's own size.
    limits = {f"{API_PREFIX}/files": config.max_upload_bytes + MULTIPART_OVERHEAD}
    limits |= {
        f"{API_PREFIX}/auth/{name}": CREDENTIALS_BODY_BYTES
        for name in ("setup", "login", "invite", "invite/accept")
    }
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes, limits=limits)
    # Outermost last: the Host is checked first, then the credentials, then the body.
    origins = OriginPolicy(public_origins(config))
    app.state.origins = origins  # the WebSocket of live co-editing checks its handshake too
    app.add_middleware(
        AuthGate, auth=server.parts.auth, prefix=API_PREFIX, public=PUBLIC_ROUTES, origins=origins
    )
    app.add_middleware(HostGuard, policy=HostPolicy.from_settings(config))
    protected: dict[str, Any] = {
        "prefix": API_PREFIX,
        "dependencies": [Depends(current_principal)],
        "responses": errors.responses(401, 403, 422),
    }
    # Each request is matched against the routes in order, router by router, and the
    # routers are included here directly (not under one router of protected routes, which
    # would match every request twice more): starting a run, the route taken most, first.
    app.include_router(executions.runs, **protected)
    app.include_router(auth.router, prefix=API_PREFIX, responses=errors.responses(422))
    for module in (workflows, executions, waits, nodes, settings, variables, credentials):
        app.include_router(module.router, **protected)
    app.include_router(collections.router, **protected)
    for router in (workflows.checks, credentials.tools, auth.account, users.router, users.invites):
        app.include_router(router, **protected)
    app.include_router(files.router, **protected)
    app.include_router(queue.router, **protected)
    app.include_router(collab.router, **protected)
    app.include_router(collab.live, prefix=API_PREFIX)  # a WebSocket: checks its handshake
    webhooks.install(app)  # /webhook/<path>, first, outside /api/v1 and its auth
    resume.install(app)  # /resume/<token>: waits' links and forms, outside /api/v1 too
    tools = getattr(server.parts, "tools", None)  # only a host that records executions
    mcp = McpEndpoint(server.parts.auth, tools)  # checks its API key itself
    app.router.routes.append(Route(MCP_PATH, mcp, include_in_schema=False))  # an ASGI app
    apidocs.install(app, TITLE)  # /docs and /redoc, public, as /openapi.json is
    app.include_router(guide.router)  # /guide/: docs/ as HTML, public
    web.install(app)  # the editor, for whatever no route answers
    return app
