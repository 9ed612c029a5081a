"""Which processes a deployment runs: one process, or queue mode (``TAV_QUEUE_URL``).

Queue mode needs PostgreSQL: the API processes and the workers share the one database
(rows committed by one process are run by another, leases are taken with row locks, and
SQLite is a file on one machine). It refuses to start on SQLite, saying so.
"""

from __future__ import annotations

from tav.core.errors import InputInvalid
from tav.settings import Settings


class TopologyInvalid(InputInvalid):
    """Settings that cannot make a working deployment."""


def queue_mode(settings: Settings) -> bool:
    return bool(settings.queue_url)


def check(settings: Settings) -> None:
    """Raise ``TopologyInvalid`` saying why the settings cannot run."""
    if not queue_mode(settings):
        return
    url = settings.queue_url or ""
    if not url.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
        raise TopologyInvalid(
            "TAV_QUEUE_URL must be a Redis (redis://host:6379/0) or RabbitMQ "
            "(amqp://user:password@host:5672//) URL"
        )
    if not settings.resolved_database_url().startswith("postgresql"):
        raise TopologyInvalid(
            "queue mode (TAV_QUEUE_URL) needs PostgreSQL in TAV_DATABASE_URL: the API "
            "processes and the workers share one database, and SQLite is a file one "
            "machine owns (postgresql+asyncpg://user:password@host:5432/db)"
        )
