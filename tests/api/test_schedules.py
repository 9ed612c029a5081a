"""Schedules driven by a manual clock, on SQLite and PostgreSQL: slots fire once, also
across a restart and with two servers on one database (on PostgreSQL, the trigger leader
alone arms them, and another server takes over when it goes); slots that passed less
than ``TAV_SCHEDULE_LATE_S`` ago fire late, older ones are skipped or run once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from tav.app.root import build
from tav.app.server import Server
from tav.triggers import ManualClock
from tests.api.helpers import stored
from tests.helpers import document, node

START = datetime(2026, 1, 1, 10, 30, tzinfo=UTC)


def schedule_flow(**params: Any) -> dict[str, Any]:
    return document(
        node("tick", "trigger.schedule", params=params),
        node("result", "core.output"),
        links=("tick -> result",),
        name="every hour",
    )


def on(server: Server, clock: ManualClock) -> Server:
    server.parts.triggers.host = dataclasses.replace(server.parts.triggers.host, clock=clock)
    return server


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def restart(server: Server, clock: ManualClock) -> AsyncIterator[Any]:
    """``await restart()``: another server on the same database, started on ``clock``."""
    started: list[Server] = []

    async def start(**settings: Any) -> Server:
        changed = server.settings.model_copy(update=settings)
        other = on(Server(build(changed, registry=server.parts.registry)), clock)
        await other.start(prune=False, resume=False)
        started.append(other)
        return other

    yield start
    for other in started:
        await other.stop(timeout_s=0)


async def sleeping(clock: ManualClock, count: int = 1) -> None:
    """Wait (in real time) until ``count`` schedules sleep on the clock again: whatever
    they fired is recorded by then."""
    async with asyncio.timeout(10):
        while True:
            if clock.sleepers >= count:
                return
            await asyncio.sleep(0.005)


async def runs(server: Server, workflow_id: str) -> list[Any]:
    await server.parts.writer.flush()
    found, _ = await server.parts.executions.find(workflow_id=workflow_id, limit=100)
    inputs = []
    for summary in sorted(found, key=lambda s: s.started_at):
        record = await server.parts.executions.get(summary.execution_id)
        assert record is not None
        assert record.mode == "schedule"
        inputs.append(record.input)
    return inputs


async def test_slots_fire_once_also_across_a_restart(
    server: Server, clock: ManualClock, restart: Any
):
    workflow_id = await stored(server, schedule_flow(cron="0 * * * *"))
    await on(server, clock).parts.triggers.activate(workflow_id)
    await sleeping(clock)
    await clock.advance(to=datetime(2026, 1, 1, 11, tzinfo=UTC))
    await sleeping(clock)
    fired = await runs(server, workflow_id)
    assert [run["slot"] for run in fired] == ["2026-01-01T11:00:00+00:00"]
    assert fired[0]["missed"] is False

    await server.parts.triggers.stop()  # the server goes down at 11:00 and is back at once
    again = await restart()
    await sleeping(clock)
    await clock.advance(59 * 60)
    assert len(await runs(server, workflow_id)) == 1
    await clock.advance(60)  # 12:00
    await sleeping(clock)
    slots = [run["slot"] for run in await runs(again, workflow_id)]
    assert slots == ["2026-01-01T11:00:00+00:00", "2026-01-01T12:00:00+00:00"]


async def test_two_servers_on_one_database_fire_a_slot_once(
    server: Server, clock: ManualClock, restart: Any, database: str
):
    workflow_id = await stored(server, schedule_flow(interval_s=60))
    await on(server, clock).parts.triggers.activate(workflow_id)
    other = await restart()
    # On SQLite both arm the schedule; on PostgreSQL only the trigger leader does.
    schedules = 2 if database == "sqlite" else 1
    assert other.parts.triggers.leading is (database == "sqlite")
    await sleeping(clock, schedules)
    for _ in range(3):
        await clock.advance(60)
        await sleeping(clock, schedules)
    slots = [run["slot"] for run in await runs(server, workflow_id)]
    assert slots == [
        "2026-01-01T10:31:00+00:00",
        "2026-01-01T10:32:00+00:00",
        "2026-01-01T10:33:00+00:00",
    ]


async def test_missed_slots_are_skipped_by_default(
    server: Server, clock: ManualClock, restart: Any
):
    workflow_id = await stored(server, schedule_flow(cron="0 * * * *"))
    await on(server, clock).parts.triggers.activate(workflow_id)
    await sleeping(clock)
    await server.parts.triggers.stop()
    await clock.advance(5 * 3600)  # down from 10:30 to 15:30
    again = await restart()
    await sleeping(clock)
    assert await runs(again, workflow_id) == []
    await clock.advance(30 * 60)
    await sleeping(clock)
    assert [run["slot"] for run in await runs(again, workflow_id)] == ["2026-01-01T16:00:00+00:00"]


async def test_missed_slots_run_once_in_a_time_zone(
    server: Server, clock: ManualClock, restart: Any
):
    flow = schedule_flow(cron="0 9 * * *", timezone="Europe/Berlin", missed="run_once")
    workflow_id = await stored(server, flow)
    await on(server, clock).parts.triggers.activate(workflow_id)
    await sleeping(clock)
    await server.parts.triggers.stop()
    await clock.advance(to=datetime(2026, 1, 4, 12, tzinfo=UTC))  # three 9:00 slots missed
    again = await restart()
    await sleeping(clock)
    fired = await runs(again, workflow_id)
    assert [(run["slot"], run["missed"]) for run in fired] == [("2026-01-04T09:00:00+01:00", True)]
    assert fired[0]["timezone"] == "Europe/Berlin"
    await clock.advance(to=datetime(2026, 1, 5, 8, tzinfo=UTC))  # 9:00 in Berlin
    await sleeping(clock)
    assert [run["slot"] for run in await runs(again, workflow_id)][-1] == (
        "2026-01-05T09:00:00+01:00"
    )


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_another_server_takes_the_schedule_over_and_fires_the_slots_of_the_handover(
    server: Server, clock: ManualClock, restart: Any
):
    workflow_id = await stored(server, schedule_flow(interval_s=60))
    await on(server, clock).parts.triggers.activate(workflow_id)
    other = await restart(trigger_leader_check_s=0.05)
    await sleeping(clock)
    assert (server.parts.triggers.leading, other.parts.triggers.leading) == (True, False)
    assert await other.parts.triggers.leader() == server.parts.triggers.name
    await clock.advance(60)  # 10:31, fired by the leader
    await sleeping(clock)
    await server.parts.triggers.stop()  # the leader goes at 10:31
    await clock.advance(50)  # 10:31:50
    await sleeping(clock)  # the other took over: nothing missed yet, nothing fired twice
    assert other.parts.triggers.leading
    assert await other.parts.triggers.leader() == other.parts.triggers.name
    await other.parts.triggers.stop()  # it goes too, at 10:31:50
    again = await restart()
    await clock.advance(to=datetime(2026, 1, 1, 10, 32, 20, tzinfo=UTC))
    await sleeping(clock)
    # 10:32 passed during the second handover, 20 s before: late, not missed
    fired = await runs(again, workflow_id)
    assert [(run["slot"], run["missed"]) for run in fired] == [
        ("2026-01-01T10:31:00+00:00", False),
        ("2026-01-01T10:32:00+00:00", False),
    ]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_leader_whose_lock_session_ends_disarms_its_schedule_and_another_arms_it(
    server: Server, clock: ManualClock, restart: Any
):
    workflow_id = await stored(server, schedule_flow(interval_s=60))
    await on(server, clock).parts.triggers.activate(workflow_id)
    other = await restart(trigger_leader_check_s=0.05)
    await sleeping(clock)
    engine = server.parts.db.engine
    async with engine.connect() as connection:
        ended = await connection.scalar(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": f"tav {server.parts.triggers.name}"},
        )
    assert ended is True
    for _ in range(1000):  # at most 10 s
        if other.parts.triggers.leading:
            break
        await asyncio.sleep(0.01)
    assert not server.parts.triggers.leading
    assert "tick" not in server.parts.triggers.armed[workflow_id].armed
    assert "tick" in other.parts.triggers.armed[workflow_id].armed
    await sleeping(clock)
    await clock.advance(60)
    await sleeping(clock)
    fired = await runs(other, workflow_id)
    assert [run["slot"] for run in fired] == ["2026-01-01T10:31:00+00:00"]


async def test_a_slot_that_passed_while_the_server_restarted_fires_late_unless_too_old(
    server: Server, clock: ManualClock, restart: Any
):
    workflow_id = await stored(server, schedule_flow(interval_s=10))
    await on(server, clock).parts.triggers.activate(workflow_id)
    await sleeping(clock)
    await server.parts.triggers.stop()  # down at 10:30:00
    await clock.advance(45)  # back at 10:30:45: 10:30:10 is missed, :20 :30 :40 are late
    again = await restart()
    await sleeping(clock)
    fired = await runs(again, workflow_id)
    assert [(run["slot"][11:19], run["missed"]) for run in fired] == [
        ("10:30:20", False),
        ("10:30:30", False),
        ("10:30:40", False),
    ]


async def test_deactivating_stops_the_schedule(server: Server, clock: ManualClock):
    workflow_id = await stored(server, schedule_flow(interval_s=60))
    await on(server, clock).parts.triggers.activate(workflow_id)
    await sleeping(clock)
    await server.parts.triggers.deactivate(workflow_id)
    await clock.advance(600)
    assert await runs(server, workflow_id) == []
    assert clock.sleepers == 0


async def test_invalid_schedules_are_refused_on_save(server: Server):
    from tav.core.errors import WorkflowInvalid

    for params in (
        {"cron": "not cron"},
        {"cron": "* * * * *", "timezone": "Mars/Olympus"},
        {},
        {"cron": "* * * * *", "interval_s": 60},
    ):
        with pytest.raises(WorkflowInvalid):
            server.parts.plans.compile(schedule_flow(**params))
