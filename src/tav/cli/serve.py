"""``tav serve``: the API, the editor and the docs under uvicorn.

Once it answers it prints a short banner on stdout (``tav.cli.banner``): where it is, what
to do first on a fresh install, where the API docs are, the data dir and the mode; and a
line when it starts stopping and when it has stopped. A first start may take a while
(migrations, the editor's first build under ``make run``): the banner tells it from a hang.

On SIGTERM (or Ctrl-C) uvicorn stops listening and waits for open requests; the server
stops taking runs at that same moment and gives running executions ``shutdown_timeout_s``
to finish. What is still running then is left as it is stored, and resumes on the next
start. Live streams of those executions end without a final event: their watchers
reconnect (``Last-Event-ID``) once the server is back.

The application is handed to uvicorn by name: the CLI and the API are separate entry
points, and neither imports the other; the app builds its parts through the composition
root (``tav.app.root``).
"""

from __future__ import annotations

import gc
import ipaddress
import os
import socket
import sys
from typing import Annotated, Any

import typer

from tav.app import topology
from tav.cli import banner
from tav.settings import Settings

APP = "tav.api.app:create_app"
GC_YOUNGEST_THRESHOLD = 10_000
WS_FRAMING = 1024


def serve_command(
    host: Annotated[
        str | None,
        typer.Option(help="Interface to bind; 0.0.0.0 exposes it. [default: TAV_HOST, 127.0.0.1]"),
    ] = None,
    port: Annotated[int | None, typer.Option(help="TCP port. [default: TAV_PORT, 8000]")] = None,
) -> None:
    """Start the server: migrations, resumed executions, then the API on HOST:PORT."""
    gc.disable()  # until it is up: see _long_lived
    # httpx imports its own command-line client whenever click, rich and pygments are
    # installed (they are, for this CLI): ~70 ms and ~5 MB that a server never uses.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    import uvicorn

    settings = Settings()
    try:
        topology.check(settings)
    except topology.TopologyInvalid as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    # The application (made by uvicorn, from the environment) refuses requests from
    # workflows to the address it listens on: it must know which one that is.
    os.environ["TAV_HOST"], os.environ["TAV_PORT"] = host, str(port)
    _note_hosts(host, settings)
    listening = (host, port)  # as the banner names them
    log_level = settings.log_level.lower()
    config = uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        access_log=log_level in ("debug", "info", "trace"),
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s) + 1,
        lifespan="on",
        # Live co-editing's WebSocket (tav.collab); a message larger than the rooms take
        # is refused by the protocol (1009) before it is read whole.
        ws="websockets-sansio",
        ws_max_size=settings.collab_max_message_bytes + WS_FRAMING,
    )

    class DrainingServer(uvicorn.Server):
        """Starts draining executions as soon as uvicorn shuts down, rather than after
        every open request (a live stream, say) has ended."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            _long_lived()
            if self.started:
                state = _application(self.config.loaded_app).state
                await banner.ready(settings, *listening, auth=state.parts.auth)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            banner.stopping(settings)
            server = getattr(_application(self.config.loaded_app).state, "server", None)
            if server is not None:
                server.drain()
            await super().shutdown(sockets)
            banner.stopped()  # here: after a signal, uvicorn ends by raising it again

    DrainingServer(config).run()


def _note_hosts(host: str, settings: Settings) -> None:
    """Say at start what the Host rule (``tav.api.origins``) will do with this binding."""
    if "*" in settings.allowed_hosts:
        typer.echo(
            "tav serve: TAV_ALLOWED_HOSTS=* answers any Host name, so a web page can reach "
            "this server through DNS rebinding; list the names clients use instead",
            err=True,
        )
    elif not _loopback(host) and not settings.allowed_hosts and not settings.public_origins:
        typer.echo(
            f"tav serve: listening on {host}, but answering only requests addressed to "
            "localhost, 127.0.0.1 or [::1]; set TAV_ALLOWED_HOSTS to the names other "
            "machines use to reach it (docs/deployment/security.md)",
            err=True,
        )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _long_lived() -> None:
    """Everything that exists once the server is up (modules, the app, the node registry:
    some 150,000 objects) lives as long as the process, so the garbage collector is kept
    off it: it is off while starting (where collecting finds next to nothing and costs a
    tenth of the imports' time), and what exists then is frozen out of its sight. Before,
    a full collection walked all of it every few thousand runs, stopping the event loop
    for ~100 ms each time. The youngest generation is collected after 10,000 allocations
    rather than 700: a request allocates much and frees nearly all of it by reference
    counting, so frequent collections found little and cost ~0.1 ms per run."""
    gc.freeze()
    gc.set_threshold(GC_YOUNGEST_THRESHOLD, *gc.get_threshold()[1:])
    gc.enable()


def _application(app: Any) -> Any:
    """The application inside uvicorn's middleware (each keeps what it wraps as ``app``)."""
    while not hasattr(app, "state") and hasattr(app, "app"):
        app = app.app
    return app
