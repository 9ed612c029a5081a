"""The FastAPI application: ``create_app(settings)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from tav.api import errors
from tav.api.deps import current_principal
from tav.api.limits import BodyLimitMiddleware
from tav.api.routes import (
    auth,
    credentials,
    executions,
    nodes,
    settings,
    variables,
    workflows,
)
from tav.server import Server
from tav.settings import Settings

API_PREFIX = "/api/v1"


def create_app(config: Settings | None = None, *, server: Server | None = None) -> FastAPI:
    """The app; its lifespan starts the server (migrations, writer, resumed executions)."""
    config = config or Settings()
    server = server or Server(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    app = FastAPI(
        title="TAV Engine",
        version="1",
        description="Local-first workflow automation for AI-powered automations.",
        lifespan=lifespan,
    )
    app.state.server = server
    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    app.include_router(auth.router, prefix=API_PREFIX, responses=errors.responses(422))
    protected = APIRouter(
        prefix=API_PREFIX,
        dependencies=[Depends(current_principal)],
        responses=errors.responses(401, 422),
    )
    for module in (workflows, executions, nodes, settings, variables, credentials):
        protected.include_router(module.router)
    protected.include_router(executions.runs)
    app.include_router(protected)
    return app
