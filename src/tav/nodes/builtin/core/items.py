"""One piece of work per item of a list, inside one node: what ``core.map`` and the list
form of ``core.http_request`` share.

At most ``concurrency`` items are worked on at a time, in item order, and the results come
back in item order. ``on_item_error`` says what a failing item does:

- ``stop`` (the default): the first item that fails fails the node, its message starting
  with the item (``item 2: ...``), and the items still running are cancelled;
- ``continue``: every item runs; a failed item's result is ``null`` and its error is
  listed on the node's ``errors`` port (``{index, item, type, message}``), which gets a
  value only when an item failed, so the edges from it run only then.

Only ``NodeError`` counts as an item's failure; anything else (a bug) fails the node as it
would without items. Cancelling the node cancels every item at once.

Rejected: one task per item up front (a list of 10,000 items would start 10,000 tasks
waiting on a semaphore); workers that pull the next item keep ``concurrency`` tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from tav.core.errors import NodeError
from tav.nodes.base import Outputs, Port

T = TypeVar("T")
OnItemError = Literal["stop", "continue"]

ON_ITEM_ERROR = (
    "`stop`: the first item that fails fails the node and cancels the rest; `continue`: "
    "every item runs, a failed one's result is null and its error goes out on the "
    "`errors` port."
)
"""The description of the ``on_item_error`` param."""
ERRORS_PORT = Port(
    "With `on_item_error: continue`, the items that failed, `[{index, item, type, "
    "message}]`; no value when none did."
)


@dataclass
class ItemResults:
    """What the items came to: a result per item (``None`` where one failed) and the
    errors of those that failed, in item order."""

    results: list[Any]
    errors: list[dict[str, Any]] = field(default_factory=list)

    def outputs(self) -> Outputs:
        """The node's outputs: ``output`` always, ``errors`` when an item failed."""
        if self.errors:
            return {"output": self.results, "errors": self.errors}
        return {"output": self.results}


async def each(
    items: Sequence[T],
    work: Callable[[int, T], Awaitable[Any]],
    *,
    concurrency: int,
    on_item_error: OnItemError,
    label: str = "item",
) -> ItemResults:
    """``work(index, item)`` for every item, at most ``concurrency`` at a time; ``label`` names
    an item in an error message (``request 3: ...``)."""
    done = ItemResults([None] * len(items))
    failed: dict[int, dict[str, Any]] = {}
    pending = iter(enumerate(items))

    async def worker() -> None:
        for index, item in pending:
            try:
                done.results[index] = await work(index, item)
            except NodeError as exc:
                if on_item_error == "stop":
                    raise NodeError(
                        f"{label} {index}: {exc.message}",
                        type=exc.type,
                        retryable=exc.retryable,
                        retry_after=exc.retry_after,
                    ) from None
                failed[index] = {
                    "index": index,
                    "item": _shown(item),
                    "type": exc.type,
                    "message": exc.message,
                }

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(items))):
                group.create_task(worker())
    except ExceptionGroup as group_error:
        raise group_error.exceptions[0] from None
    done.errors = [failed[index] for index in sorted(failed)]
    return done


def _shown(item: Any) -> Any:
    """An item as the author wrote it, for its error record."""
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return item
