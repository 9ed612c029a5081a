"""Schedules: cron expressions in a time zone, or fixed intervals.

Each schedule keeps the last slot it has dealt with (fired or skipped) in the trigger
state, and moves it on with an atomic compare-and-swap *before* it starts the run: a slot
whose swap fails was taken by someone else (another process on the same database, or an
earlier life of this one), so no slot ever fires twice, across restarts included. A run
that could not start after its slot was claimed is lost rather than doubled.

A schedule sleeps until its next slot. Whenever it deals with the slots after the last one
it dealt with (when it is armed, and each time it wakes), one rule applies: a slot that
passed at most ``late_s`` ago (``TAV_SCHEDULE_LATE_S``) is *late*, and fires, each one
once, in order; an older one is *missed*: ``skip`` passes over it, ``run_once`` runs once
for the latest missed one. So the few seconds of a takeover by another trigger leader
(``tav.triggers.leadership``), or of a quick restart, lose no slot, while the hours a
server was down (or the workflow inactive, or the machine suspended) do not come back as
a burst of runs.

The run of a claimed slot is started even if the schedule is disarmed meanwhile (its
leader lost the lead): the slot is stored as dealt with, so no other process would.

Interval slots are multiples of the interval since the Unix epoch (UTC), so an interval of
300 s fires at :00, :05, :10... whenever the workflow was activated.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tav.core.modes import ExecutionMode
from tav.nodes.builtin.triggers.schedule import ScheduleParams
from tav.triggers.base import Background, Host, Target

logger = logging.getLogger("tav.triggers.schedule")
STATE_KEY = "last_slot"
RETRY_S = 5.0
LATE_S = 30.0
"""Slots that passed at most this long ago fire late; older ones are missed."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TINY = timedelta(microseconds=1)


class Slots:
    """The instants a schedule fires at."""

    def __init__(self, config: ScheduleParams) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)

    def next_after(self, moment: datetime) -> datetime:
        if self.config.interval_s is not None:
            step = self.config.interval_s
            count = math.floor((moment - EPOCH).total_seconds() / step) + 1
            return EPOCH + timedelta(seconds=count * step)
        return self._cron(moment).get_next(datetime).astimezone(UTC)  # type: ignore[no-any-return]

    def latest_until(self, moment: datetime) -> datetime:
        """The latest slot at or before ``moment``."""
        if self.config.interval_s is not None:
            step = self.config.interval_s
            count = math.floor((moment - EPOCH).total_seconds() / step)
            return EPOCH + timedelta(seconds=count * step)
        return self._cron(moment + TINY).get_prev(datetime).astimezone(UTC)  # type: ignore[no-any-return]

    def _cron(self, moment: datetime) -> Any:
        from croniter import croniter  # ~0.1 s to import: only once a schedule is armed

        assert self.config.cron is not None
        return croniter(self.config.cron, moment.astimezone(self.zone))


def upcoming(config: ScheduleParams, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots after ``after``, in the schedule's time zone: what a
    preview shows, computed as the schedule fires."""
    slots = Slots(config)
    found: list[datetime] = []
    moment = after
    for _ in range(count):
        moment = slots.next_after(moment)
        found.append(moment.astimezone(slots.zone))
    return found


class Schedule(Background):
    def __init__(
        self, target: Target, config: ScheduleParams, host: Host, *, late_s: float = LATE_S
    ) -> None:
        super().__init__(f"schedule {target.workflow.id}/{target.node_id}")
        self.target = target
        self.config = config
        self.host = host
        self.slots = Slots(config)
        self.late = timedelta(seconds=late_s)

    async def body(self) -> None:
        last = await self._retrying(self._begin)
        while True:
            await self.host.clock.sleep_until(self.slots.next_after(last))
            last = await self._retrying(functools.partial(self._catch_up, last))

    async def _retrying(self, step: Callable[[], Awaitable[datetime]]) -> datetime:
        """``step`` until it gets through: the database may be away for a moment."""
        while True:
            try:
                return await step()
            except Exception as exc:
                logger.warning("%s: %s; trying again in %.0f s", self.name, exc, RETRY_S)
                await self.host.clock.sleep(RETRY_S)

    async def _begin(self) -> datetime:
        """The last slot dealt with, once armed: the stored one, caught up."""
        last = await self._stored()
        if last is None:  # armed for the first time: nothing was missed
            now = self.host.clock.now()
            return await self._swap(None, now) or now
        return await self._catch_up(last)

    async def _catch_up(self, last: datetime) -> datetime:
        """Deal with the slots after ``last`` until now: the missed ones (older than
        ``late``) after the policy, then each late or due one; returns the last dealt with."""
        now = self.host.clock.now()
        missed = self.slots.latest_until(now - self.late)
        if missed > last:
            last = await self._miss(last, missed)
        while (slot := self.slots.next_after(last)) <= now:
            last = await self._take(last, slot)
        return last

    async def _miss(self, last: datetime, latest: datetime) -> datetime:
        if self.config.missed == "run_once":
            return await self._take(last, latest, missed=True)
        logger.info("%s: skipping missed slots up to %s", self.name, latest.isoformat())
        return await self._swap(last, latest) or latest

    async def _take(self, last: datetime, slot: datetime, *, missed: bool = False) -> datetime:
        """Claim ``slot`` and fire it; returns the last slot dealt with."""
        taken = await self._swap(last, slot)
        if taken is not None:
            return taken  # someone else moved it first
        # Shielded: a slot claimed is started even if this schedule is disarmed meanwhile.
        await asyncio.shield(self._launch(slot, missed))
        return slot

    async def _launch(self, slot: datetime, missed: bool) -> None:
        try:
            await self.target.launch(self.host, self._payload(slot, missed), ExecutionMode.SCHEDULE)
        except Exception as exc:  # the slot stays taken: never run twice, rather once less
            logger.warning("%s: cannot start the run of %s: %s", self.name, slot, exc)

    async def _swap(self, expected: datetime | None, new: datetime) -> datetime | None:
        """Move the stored slot; ``None`` if done, else the slot someone else stored."""
        target = self.target
        done = await self.host.state.swap(
            target.workflow.id,
            target.node_id,
            STATE_KEY,
            None if expected is None else expected.isoformat(),
            new.isoformat(),
        )
        if done:
            return None
        return await self._stored() or new

    async def _stored(self) -> datetime | None:
        value = await self.host.state.get(self.target.workflow.id, self.target.node_id, STATE_KEY)
        return datetime.fromisoformat(value) if value else None

    def _payload(self, slot: datetime, missed: bool) -> dict[str, Any]:
        return {
            "slot": slot.astimezone(self.slots.zone).isoformat(),
            "fired_at": self.host.clock.now().isoformat(),
            "timezone": self.config.timezone,
            "cron": self.config.cron,
            "interval_s": self.config.interval_s,
            "missed": missed,
        }


class ScheduleKind:
    def __init__(self, late_s: float = LATE_S) -> None:
        self.late_s = late_s

    def parse(self, activation: Mapping[str, Any]) -> ScheduleParams:
        return ScheduleParams.model_validate({k: v for k, v in activation.items() if k != "kind"})

    def claims(self, config: ScheduleParams) -> frozenset[str]:
        return frozenset()

    async def check(self, config: ScheduleParams, host: Host) -> None:
        return None

    def arm(self, target: Target, config: ScheduleParams, host: Host) -> Schedule:
        return Schedule(target, config, host, late_s=self.late_s)
