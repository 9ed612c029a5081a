"""Finding the executions that keep a batch from being written, so the rest can be.

The writer (``tav.storage.writer``) commits many executions' updates in one transaction.
When that fails for a reason it does not handle on the spot, ``Isolation`` writes the
batch's executions apart: the groups that failed together are halved, each half in its own
transaction, until each group that fails alone is found — with k such groups among n, some
2·k·log2(n) transactions, and no more than one when the trouble has passed. A group found
is written once more (a passing trouble gets a second chance), then recorded as failed
(``not_stored``, saying why) with what of it can be stored; if even that fails it is lost.
A database that takes no writes at all (unreachable, disk full) is not asked again for
every group: after the first failure to record one, the rest are lost at once.

Rejected: writing every execution on its own at the first failure (a transaction each for
the whole batch, every time), and dropping the batch (everyone pays for one).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

from tav.core.errors import FailureKind, NotStored
from tav.core.results import ErrorInfo
from tav.core.values import storable_text
from tav.storage.codec import NotStorable

logger = logging.getLogger("tav.storage")
UNAVAILABLE = (OperationalError, InterfaceError, OSError, TimeoutError)
"""What a database that cannot be written at all raises (unreachable, disk full)."""

Part = TypeVar("Part")


class Isolation(Generic[Part]):
    """One search through one batch: ``part(ids)`` is the batch's part for those
    executions, ``write`` writes a part in one transaction, ``record_failed`` records a
    part's executions as failed. ``lost`` holds what could not be stored, by execution."""

    def __init__(
        self,
        part: Callable[[list[str]], Part],
        write: Callable[[Part], Awaitable[None]],
        record_failed: Callable[[Part, ErrorInfo], Awaitable[None]],
    ) -> None:
        self.part, self.write, self.record_failed = part, write, record_failed
        self.lost: dict[str, NotStored] = {}
        self.unavailable = False
        """The database refused even to record a failure: the rest is not tried."""

    async def bisect(self, groups: list[list[str]], failure: Exception) -> None:
        """``groups`` (of execution ids) failed together with ``failure``: write each half
        on its own, and go on into those that fail."""
        if len(groups) == 1:
            await self.fail(groups[0], failure)
            return
        middle = len(groups) // 2
        for half in (groups[:middle], groups[middle:]):
            ids = [execution_id for group in half for execution_id in group]
            if self.unavailable:
                self.lose(ids, failure, recorded=False)
                continue
            try:
                await self.write(self.part(ids))
            except Exception as exc:
                await self.bisect(half, exc)

    async def fail(self, group: list[str], failure: Exception) -> None:
        """A group that fails alone: written once more, else recorded as failed."""
        part = self.part(group)
        try:
            await self.write(part)
            return
        except Exception as exc:
            failure = exc
        why = reason(failure)
        unexpected = None if isinstance(failure, NotStorable) else failure
        names = ", ".join(group)
        logger.error("could not store execution(s) %s: %s", names, why, exc_info=unexpected)
        message = f"the execution could not be stored, so it was stopped: {why}"
        try:
            await self.record_failed(part, ErrorInfo(type=FailureKind.NOT_STORED, message=message))
        except Exception as exc:
            logger.error("could not record execution(s) %s as failed: %s", names, reason(exc))
            self.unavailable = isinstance(exc, UNAVAILABLE)
            self.lose(group, failure, recorded=False)
        else:
            self.lose(group, failure, recorded=True)

    def lose(self, ids: Iterable[str], failure: BaseException, *, recorded: bool) -> None:
        why = reason(failure)
        outcome = "; it is recorded as failed" if recorded else ""
        for execution_id in ids:
            message = f"execution {execution_id} could not be stored: {why}{outcome}"
            self.lost[execution_id] = NotStored(
                message, execution_id=execution_id, recorded=recorded
            )


def reason(exc: BaseException) -> str:
    """One line on what went wrong, fit to be stored and shown (a database error's text
    goes on with the statement and its parameters: those are left out)."""
    text = str(exc) if isinstance(exc, NotStorable) else f"{type(exc).__name__}: {exc}"
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return storable_text(line if len(line) <= 300 else line[:297] + "...")
