"""What ``tav serve`` prints on stdout once it answers, and when it stops.

```text
TAV Engine 0.1.0 is ready at http://127.0.0.1:8000/
  Open it to create the owner account.
  API docs:  http://127.0.0.1:8000/docs
  Guide:     http://127.0.0.1:8000/guide/
  Data dir:  /home/ada/tav/.tav
  Mode:      embedded (one process; SQLite)
Ctrl-C stops it.
```

The second line is printed only while there is no owner account. The data dir is
absolute, so that a server started from an unexpected directory shows it at once.
"""

from __future__ import annotations

import ipaddress
from typing import Protocol

import typer

from tav.cli.version import version
from tav.settings import Settings

DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


class Owners(Protocol):
    async def has_owner(self) -> bool: ...


async def ready(settings: Settings, host: str, port: int, *, auth: Owners) -> None:
    url = f"http://{_reachable(host)}:{port}/"
    lines = [f"TAV Engine {version()} is ready at {url}"]
    if _reachable(host) != _bracketed(host):
        lines.append(f"  Listening on {host}: other machines use this machine's address.")
    if not await auth.has_owner():
        lines.append("  Open it to create the owner account.")
    lines += [
        f"  API docs:  {url}docs",
        f"  Guide:     {url}guide/",
        f"  Data dir:  {settings.data_dir.resolve()}",
        f"  Mode:      {mode(settings)}",
        "Ctrl-C stops it.",
    ]
    typer.echo("\n".join(lines))


def stopping(settings: Settings) -> None:
    typer.echo(
        "TAV Engine is stopping: running executions get up to "
        f"{settings.shutdown_timeout_s:g} s to finish."
    )


def stopped() -> None:
    typer.echo("TAV Engine stopped.")


def mode(settings: Settings) -> str:
    """One process for everything (embedded), or queue mode's API process, over the
    database the settings name."""
    url = settings.database_url or "sqlite"
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    if settings.queue_url:
        broker = "RabbitMQ" if settings.queue_url.startswith("amqp") else "Redis"
        return f"queue (API; tav worker runs executions; {broker}, {DATABASES.get(dialect)})"
    return f"embedded (one process; {DATABASES.get(dialect, dialect)})"


def _reachable(host: str) -> str:
    """The address a browser on this machine reaches ``host`` at."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    if address.is_unspecified:
        return "127.0.0.1" if address.version == 4 else "[::1]"
    return _bracketed(host)


def _bracketed(host: str) -> str:
    return f"[{host.strip('[]')}]" if ":" in host else host
