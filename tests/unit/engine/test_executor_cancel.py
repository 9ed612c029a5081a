"""Cancelling an execution: through its handle, or by cancelling the awaiting task."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from tav.core.events import Event
from tav.core.results import NodeResult
from tav.core.states import ExecutionStatus
from tav.engine.bus import InMemoryBus
from tav.engine.executor import ExecutionHandle, Executor, RunOptions
from tav.engine.memory import MemoryStore
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, statuses, workflow


def long_delays() -> Any:
    """Two running 10 s delays, a node behind each, and one behind both."""
    return workflow(
        node("start", "trigger.manual"),
        node("wait1", "core.delay", params={"seconds": 10}),
        node("wait2", "core.delay", params={"seconds": 10}),
        node("after1"),
        node("both", "core.merge"),
        links=(
            "start -> wait1",
            "start -> wait2",
            "wait1 -> after1",
            "wait1 -> both",
            "wait2 -> both",
        ),
    )


async def until(bus: InMemoryBus, execution_id: str, seen: Callable[[Event], bool]) -> None:
    """Wait until ``seen`` holds for an event (bounded, so a bug cannot hang the test)."""
    async with asyncio.timeout(2), aclosing(bus.subscribe(execution_id)) as stream:
        async for event in stream:
            if seen(event):
                return


async def until_running(bus: InMemoryBus, execution_id: str, *node_ids: str) -> None:
    waiting = set(node_ids)

    def started(event: Event) -> bool:
        if event.type == "node.started":
            waiting.discard(event.node_id)
        return not waiting

    await until(bus, execution_id, started)


def node_tasks() -> list[asyncio.Task[Any]]:
    """Tasks other than the test's own that are still alive."""
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]


async def started(executor: Executor, bus: InMemoryBus) -> ExecutionHandle:
    handle = executor.start(executor.compile(long_delays()))
    await until_running(bus, handle.execution_id, "wait1", "wait2")
    return handle


async def test_cancel_stops_running_delays_at_once(executor: Executor, bus: InMemoryBus) -> None:
    handle = await started(executor, bus)
    clock = time.perf_counter()
    handle.cancel()
    result = await handle.wait()

    assert time.perf_counter() - clock < 0.2
    assert result.status is ExecutionStatus.CANCELLED
    assert statuses(result) == {
        "start": "succeeded",
        "wait1": "cancelled",
        "wait2": "cancelled",
        "after1": "cancelled",
        "both": "cancelled",
    }
    assert result.error is not None
    assert result.error.type == "cancelled"
    assert handle.done()
    assert node_tasks() == []


async def test_cancelled_nodes_record_when_they_ended(executor: Executor, bus: InMemoryBus) -> None:
    handle = await started(executor, bus)
    handle.cancel()
    result = await handle.wait()

    assert result.nodes["wait1"].finished_at is not None
    assert result.nodes["wait1"].error is None
    assert result.finished_at is not None
    assert result.duration_ms is not None


async def test_cancel_ends_the_event_stream(executor: Executor, bus: InMemoryBus) -> None:
    handle = await started(executor, bus)
    handle.cancel()
    result = await handle.wait()

    events = bus.events(result.execution_id)
    assert events[-1].type == "execution.cancelled"
    cancelled = {e.node_id for e in events if e.type == "node.cancelled"}
    assert cancelled == {"wait1", "wait2", "after1", "both"}


async def test_cancel_before_the_execution_starts_runs_nothing(
    executor: Executor, bus: InMemoryBus
) -> None:
    handle = executor.start(executor.compile(long_delays()))
    handle.cancel()
    result = await handle.wait()

    assert result.status is ExecutionStatus.CANCELLED
    assert set(statuses(result).values()) == {"cancelled"}
    assert not [e for e in bus.events(result.execution_id) if e.type == "node.started"]


async def test_cancel_during_a_retry_backoff(executor: Executor, bus: InMemoryBus) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "flaky",
            "test.flaky",
            params={"fail_attempts": 3},
            retry={"max_attempts": 5, "backoff_s": 10, "jitter": False},
        ),
        links=("start -> flaky",),
    )
    handle = executor.start(executor.compile(wf))
    await until(bus, handle.execution_id, lambda event: event.type == "node.retrying")
    clock = time.perf_counter()
    handle.cancel()
    result = await handle.wait()

    assert time.perf_counter() - clock < 0.2
    assert statuses(result)["flaky"] == "cancelled"
    assert result.nodes["flaky"].attempts == 1  # the attempt that failed; none was running
    assert result.status is ExecutionStatus.CANCELLED


async def test_a_node_cancelled_while_running_reports_its_attempt(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "flaky",
            "test.flaky",
            params={"fail_attempts": 1},
            retry={"max_attempts": 3, "backoff_s": 0, "jitter": False},
        ),
        node("wait", "core.delay", params={"seconds": 10}),
        links=("start -> flaky", "flaky -> wait"),
    )
    handle = executor.start(executor.compile(wf))
    await until(
        bus, handle.execution_id, lambda e: e.type == "node.started" and e.node_id == "wait"
    )
    handle.cancel()
    result = await handle.wait()

    assert result.nodes["flaky"].attempts == 2
    assert result.nodes["wait"].status.value == "cancelled"
    assert result.nodes["wait"].attempts == 1


async def test_cancelling_after_the_end_changes_nothing(executor: Executor) -> None:
    wf = workflow(node("start", "trigger.manual"))
    handle = executor.start(executor.compile(wf))
    result = await handle.wait()
    handle.cancel()

    assert result.status is ExecutionStatus.SUCCEEDED
    assert (await handle.wait()).status is ExecutionStatus.SUCCEEDED


async def test_a_waiter_cancelled_does_not_cancel_the_execution(executor: Executor) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 0.05}),
        links=("start -> wait",),
    )
    handle = executor.start(executor.compile(wf))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(handle.wait(), 0.01)
    result = await handle.wait()

    assert result.status is ExecutionStatus.SUCCEEDED


async def test_cancelling_the_awaiting_task_cancels_the_execution(
    executor: Executor, bus: InMemoryBus, store: MemoryStore
) -> None:
    plan = executor.compile(long_delays())
    task = asyncio.create_task(executor.execute(plan, options=RunOptions(execution_id="exec-1")))
    await until_running(bus, "exec-1", "wait1", "wait2")
    clock = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.perf_counter() - clock < 0.2
    assert node_tasks() == []
    stored = store.executions["exec-1"]
    assert stored.status is ExecutionStatus.CANCELLED
    assert statuses(stored)["wait1"] == "cancelled"
    assert statuses(stored)["after1"] == "cancelled"
    assert bus.events("exec-1")[-1].type == "execution.cancelled"


async def test_a_timeout_around_execute_cancels_cleanly(
    executor: Executor, store: MemoryStore
) -> None:
    plan = executor.compile(long_delays())
    clock = time.perf_counter()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await executor.execute(plan, options=RunOptions(execution_id="exec-2"))

    assert time.perf_counter() - clock < 0.25
    assert store.executions["exec-2"].status is ExecutionStatus.CANCELLED
    assert node_tasks() == []


async def test_cancelling_one_execution_leaves_another_running(
    executor: Executor, bus: InMemoryBus
) -> None:
    short = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 0.1}),
        links=("start -> wait",),
    )
    doomed = await started(executor, bus)
    survivor = executor.start(executor.compile(short))
    doomed.cancel()

    assert (await doomed.wait()).status is ExecutionStatus.CANCELLED
    assert (await survivor.wait()).status is ExecutionStatus.SUCCEEDED


async def test_a_second_cancellation_does_not_cut_the_wind_down_short(
    executor: Executor, bus: InMemoryBus, store: MemoryStore
) -> None:
    plan = executor.compile(long_delays())
    task = asyncio.create_task(executor.execute(plan, options=RunOptions(execution_id="exec-3")))
    await until_running(bus, "exec-3", "wait1", "wait2")
    task.cancel()
    await asyncio.sleep(0)  # the execution is now winding down
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert bus.events("exec-3")[-1].type == "execution.cancelled"
    assert store.executions["exec-3"].status is ExecutionStatus.CANCELLED
    assert node_tasks() == []


async def test_cancelling_reaches_into_a_running_sub_workflow(
    registry: NodeRegistry, tmp_path: Path
) -> None:
    child = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 10}),
        links=("start -> wait",),
        name="child",
    )
    (tmp_path / "child.json").write_text(json.dumps(child.to_document()))
    parent = workflow(
        node("start", "trigger.manual"),
        node("call", "core.subworkflow", params={"workflow": "child.json"}),
        links=("start -> call",),
    )
    bus = RecordingBus()
    executor = Executor(registry, bus=bus)
    handle = executor.start(executor.compile(parent, source=str(tmp_path / "parent.json")))
    async with asyncio.timeout(2):
        while not [e for e in bus.published if getattr(e, "node_id", "") == "wait"]:
            await bus.next_event()
    handle.cancel()
    result = await handle.wait()

    assert statuses(result)["call"] == "cancelled"
    child_id = next(e.execution_id for e in bus.published if getattr(e, "node_id", "") == "wait")
    assert bus.events(child_id)[-1].type == "execution.cancelled"
    assert node_tasks() == []


class RecordingBus(InMemoryBus):
    """An in-memory bus that keeps every event of every execution and signals each one."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Event] = []
        self._arrived = asyncio.Event()

    def publish(self, event: Event) -> None:
        self.published.append(event)
        self._arrived.set()
        super().publish(event)

    async def next_event(self) -> None:
        self._arrived.clear()
        await self._arrived.wait()


class SlowStore(MemoryStore):
    """Takes its time over one node's result, as a store writing to a disk might."""

    async def node_settled(self, execution_id: str, result: NodeResult) -> None:
        if result.node_id == "first":
            await asyncio.sleep(0.05)
        await super().node_settled(execution_id, result)


async def test_a_cancellation_while_the_first_nodes_settle_loses_none(
    registry: NodeRegistry,
) -> None:
    store = SlowStore()
    executor = Executor(registry, store=store)
    wf = workflow(
        node("first", pin={"output": 1}),
        node("second", pin={"output": 2}),
        node("wait", "core.delay", params={"seconds": 10}),
    )
    task = asyncio.create_task(
        executor.execute(executor.compile(wf), options=RunOptions(execution_id="exec-4"))
    )
    await asyncio.sleep(0.01)  # the store is busy with "first"
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1)

    assert done == {task}
    assert set(statuses(store.executions["exec-4"])) == {"first", "second", "wait"}
    assert store.executions["exec-4"].status is ExecutionStatus.CANCELLED
