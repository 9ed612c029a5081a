"""Queue mode at a glance: ``GET /api/v1/queue`` (any role may look)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from tav.api.access import requires
from tav.api.deps import parts_of
from tav.api.schemas.queue import QueuePublic
from tav.app.queued import Queue
from tav.core.roles import Role

router = APIRouter(prefix="/queue", tags=["queue"], dependencies=[requires(Role.viewer)])


async def _queue(request: Request) -> Queue | None:
    return parts_of(request).queue


QueueDep = Annotated[Queue | None, Depends(_queue)]


@router.get("")
async def queue_status(queue: QueueDep) -> QueuePublic:
    """Queue depth, the oldest queued execution's age, whether the broker answers, and
    the workers alive with their concurrency and running count."""
    if queue is None:
        return QueuePublic(
            mode="embedded",
            broker_up=None,
            queued=0,
            running=0,
            unpublished=0,
            oldest_queued_age_s=None,
            workers=[],
        )
    return QueuePublic(mode="queue", **asdict(await queue.status()))
