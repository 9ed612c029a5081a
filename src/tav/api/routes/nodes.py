"""The node catalog: every node type with its params JSON Schema and ports; and the next
fire times of a schedule, for the editor to show under its cron field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from tav.api.access import requires
from tav.api.deps import RegistryDep
from tav.core.roles import Role
from tav.nodes.builtin.triggers import cron as crons
from tav.nodes.builtin.triggers.schedule import ScheduleParams
from tav.triggers.schedule import upcoming

router = APIRouter(prefix="/nodes", tags=["nodes"], dependencies=[requires(Role.viewer)])


class SchedulePreview(BaseModel):
    next: list[datetime] = Field(description="The next fire times, in the schedule's zone.")
    timezone: str
    fields: list[str] = Field(description="What each field of the cron expression is.")
    warning: str | None = Field(
        None, description="What may surprise, e.g. six fields written Quartz-style."
    )


@router.get("")
async def list_nodes(registry: RegistryDep) -> list[dict[str, Any]]:
    return registry.catalog()


@router.get("/trigger.schedule/preview")
async def preview_schedule(
    cron: Annotated[str | None, Query(max_length=200, description="A cron expression.")] = None,
    timezone: Annotated[str, Query(max_length=64, description="IANA time zone.")] = "UTC",
    interval_s: Annotated[float | None, Query(description="Instead of cron.")] = None,
    count: Annotated[int, Query(ge=1, le=50, description="How many fire times.")] = 5,
) -> SchedulePreview:
    """When a schedule trigger with these params would fire next (from now), or 422 with
    what is wrong in which param (``query.cron``, ``query.timezone``)."""
    try:
        config = ScheduleParams(cron=cron, timezone=timezone, interval_s=interval_s)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in errors]) from None
    expression = config.cron or ""
    return SchedulePreview(
        next=upcoming(config, datetime.now(UTC), count),
        timezone=config.timezone,
        fields=list(crons.field_names(expression)) if config.cron else [],
        warning=crons.warning(expression) if config.cron else None,
    )


@router.get("/{type_id}")
async def get_node(type_id: str, registry: RegistryDep) -> dict[str, Any]:
    return registry.describe(type_id)
