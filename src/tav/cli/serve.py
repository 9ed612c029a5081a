"""``tav serve``: the API (and, later, the editor) under uvicorn.

On SIGTERM (or Ctrl-C) uvicorn stops listening and waits for open requests; the server
stops taking runs at that same moment and gives running executions ``shutdown_timeout_s``
to finish. What is still running then is left as it is stored, and resumes on the next
start. Live streams of those executions end without a final event: their watchers
reconnect (``Last-Event-ID``) once the server is back.

The application is handed to uvicorn by name: the CLI and the API are separate
composition roots, and neither imports the other.
"""

from __future__ import annotations

import socket
from typing import Annotated, Any

import typer

from tav.settings import Settings

APP = "tav.api.app:create_app"


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Start the server: migrations, resumed executions, then the API on HOST:PORT."""
    import uvicorn

    settings = Settings()
    config = uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s) + 1,
        lifespan="on",
        ws="none",  # no WebSocket routes (yet): not importing a WebSocket stack saves ~10 MB
    )

    class DrainingServer(uvicorn.Server):
        """Starts draining executions as soon as uvicorn shuts down, rather than after
        every open request (a live stream, say) has ended."""

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            server = getattr(_application(self.config.loaded_app).state, "server", None)
            if server is not None:
                server.drain()
            await super().shutdown(sockets)

    DrainingServer(config).run()


def _application(app: Any) -> Any:
    """The application inside uvicorn's middleware (each keeps what it wraps as ``app``)."""
    while not hasattr(app, "state") and hasattr(app, "app"):
        app = app.app
    return app
