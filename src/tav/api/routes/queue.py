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
from tav.triggers import TriggerManager

router = APIRouter(prefix="/queue", tags=["queue"], dependencies=[requires(Role.viewer)])


async def _queue(request: Request) -> Queue | None:
    return parts_of(request).queue


async def _triggers(request: Request) -> TriggerManager:
    return parts_of(request).triggers


QueueDep = Annotated[Queue | None, Depends(_queue)]
TriggersDep = Annotated[TriggerManager, Depends(_triggers)]


@router.get("")
async def queue_status(queue: QueueDep, triggers: TriggersDep) -> QueuePublic:
    """Queue depth, the oldest queued execution's age, whether the broker answers, the
    workers alive with their concurrency and running count, and which API process leads
    the triggers."""
    leader = {"trigger_leader": await triggers.leader(), "leads_triggers": triggers.leading}
    if queue is None:
        return QueuePublic(
            mode="embedded",
            broker_up=None,
            queued=0,
            running=0,
            unpublished=0,
            oldest_queued_age_s=None,
            workers=[],
            **leader,
        )
    return QueuePublic(mode="queue", **asdict(await queue.status()), **leader)
