"""``trigger.schedule``: start a run on a cron schedule or at a fixed interval."""

from __future__ import annotations

import zoneinfo
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Port
from tav.nodes.builtin.triggers import cron as crons
from tav.nodes.capabilities import TriggerCapability


class ScheduleParams(Model):
    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(
        None,
        max_length=200,
        description="A cron expression: minute hour day-of-month month day-of-week "
        "('*/15 * * * *', '0 9 * * mon-fri'). A sixth field counts seconds and comes last, "
        "not first as in Quartz: '0 9 * * mon-fri 30' is 09:00:30.",
        json_schema_extra={"format": "cron"},
    )
    timezone: str = Field("UTC", max_length=64, description="IANA time zone of the cron times.")
    interval_s: float | None = Field(
        None, ge=1, le=366 * 86400, description="Instead of cron: every this many seconds."
    )
    missed: Literal["skip", "run_once"] = Field(
        "skip",
        description="Slots that passed while the server was down: skip them, or run once "
        "for the latest of them.",
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = " ".join(value.split())
        problem = crons.problem(value)
        if problem is not None:
            raise PydanticCustomError("cron_invalid", problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            message = f"unknown time zone {value!r} (IANA names such as 'Europe/Paris')"
            raise PydanticCustomError("timezone_unknown", message) from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> ScheduleParams:
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError("give either cron or interval_s")
        return self


class ScheduleTrigger(TriggerCapability, Node):
    """Starts the workflow at each slot of a cron expression (in a time zone) or every
    `interval_s` seconds, while the workflow is active. A slot never fires twice, also
    across restarts; see docs/reference/triggers.md."""

    spec = NodeSpec(type="trigger.schedule", title="Schedule", category="triggers", icon="clock")
    Params = ScheduleParams
    outputs = {"output": Port("The slot: {slot, fired_at, timezone, cron, interval_s, missed}.")}
    trigger_kind = "schedule"
    raw_params = frozenset(ScheduleParams.model_fields)
