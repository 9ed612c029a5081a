"""``tav serve``: the API (and, later, the editor) under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from tav.settings import Settings


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Start the server: migrations, resumed executions, then the API on HOST:PORT."""
    import uvicorn

    from tav.api.app import create_app

    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s) + 1,
        lifespan="on",
    )
