"""The counts of successful executions not kept, by workflow (``keep_successes: count``):
added up in memory as they end, then written together, one statement per workflow, into
``workflows.successes_not_kept``. The execution writer writes them every
``COUNT_EVERY_S`` and on ``flush``."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import Table, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection

from tav.storage.models import WorkflowRow

WORKFLOWS: Table = WorkflowRow.__table__  # type: ignore[assignment]
_ADD = (
    WORKFLOWS.update()
    .where(WORKFLOWS.c.id == bindparam("b_id"))
    .values(
        successes_not_kept=WORKFLOWS.c.successes_not_kept + bindparam("count"),
        last_success_not_kept_at=bindparam("at"),
    )
)


class NotKeptCounts:
    """The counts not written yet: by workflow, how many and when the last ended."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, datetime]] = {}
        self.since: float | None = None
        """When the oldest of them was added (``time.monotonic``); none when there are none."""

    def __bool__(self) -> bool:
        return bool(self._counts)

    def add(self, workflow_id: str, at: datetime, count: int = 1) -> bool:
        """Count ``count`` successes of ``workflow_id``, the last ending ``at``; true when
        there were none before (a write is due later)."""
        before, last = self._counts.get(workflow_id, (0, at))
        self._counts[workflow_id] = (before + count, max(last, at))
        first = self.since is None
        if first:
            self.since = time.monotonic()
        return first

    def pending(self, workflow_id: str | None = None) -> tuple[int, datetime | None]:
        """How many (of one workflow, or of all), and when the last ended."""
        found = [c for k, c in self._counts.items() if workflow_id is None or k == workflow_id]
        return sum(n for n, _ in found), max((at for _, at in found), default=None)

    def due(self, every_s: float) -> bool:
        return self.since is not None and time.monotonic() - self.since >= every_s

    def take(self) -> dict[str, tuple[int, datetime]]:
        """All of them, to write: none are left."""
        counts, self._counts, self.since = self._counts, {}, None
        return counts


async def write_counts(
    connection: AsyncConnection, counts: dict[str, tuple[int, datetime]]
) -> None:
    """Add ``counts`` to their workflows' ``successes_not_kept`` (a workflow deleted
    meanwhile is skipped)."""
    rows = [{"b_id": k, "count": n, "at": at} for k, (n, at) in counts.items()]
    await connection.execute(_ADD, rows)
