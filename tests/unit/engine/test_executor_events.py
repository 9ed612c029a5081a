"""Events with per-execution sequence numbers, their subscribers, and the result store."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing, suppress
from pathlib import Path
from typing import Any

from tav.core.events import FINAL_EVENT_TYPES, Event
from tav.core.results import ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus, NodeStatus
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor, RunOptions
from tav.engine.memory import MemoryStore
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, run, statuses, workflow

SETTLE_TYPES = {"node.completed", "node.failed", "node.skipped", "node.cancelled"}


def mixed_workflow() -> Any:
    """Every way a node can settle but cancelled: succeeded, failed, skipped, retried."""
    return workflow(
        node("start", "trigger.manual"),
        node("check", "core.if", params={"condition": "{{ false }}"}),
        node("taken"),
        node("not_taken"),
        node(
            "flaky",
            "test.flaky",
            params={"fail_attempts": 1},
            retry={"max_attempts": 2, "backoff_s": 0, "jitter": False},
        ),
        node("bad", "core.fail", params={"message": "no"}, on_error="continue"),
        node("wait", "core.delay", params={"seconds": 0.02}),
        links=(
            "start -> check",
            "check:false -> taken",
            "check:true -> not_taken",
            "start -> flaky",
            "start -> bad",
            "start -> wait",
        ),
    )


async def collect(bus: InMemoryBus, execution_id: str, *, after: int = 0) -> list[Event]:
    async with aclosing(bus.subscribe(execution_id, after=after)) as stream:
        return [event async for event in stream]


async def subscribed(bus: InMemoryBus, execution_id: str) -> asyncio.Task[list[Event]]:
    """A task collecting the stream, already past its first step (so it misses nothing)."""
    task = asyncio.create_task(collect(bus, execution_id))
    await asyncio.sleep(0)
    return task


# -- the stream of one execution ------------------------------------------------------


async def test_sequence_numbers_run_from_one_without_gaps(
    executor: Executor, bus: InMemoryBus
) -> None:
    result = await run(executor, mixed_workflow())
    events = bus.events(result.execution_id)

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(e.execution_id == result.execution_id for e in events)


async def test_the_stream_starts_with_started_and_ends_with_one_final_event(
    executor: Executor, bus: InMemoryBus
) -> None:
    result = await run(executor, mixed_workflow())
    types = [e.type for e in bus.events(result.execution_id)]

    assert types[0] == "execution.started"
    assert types.count("execution.started") == 1
    assert types[-1] == "execution.completed"
    assert sum(t in FINAL_EVENT_TYPES for t in types) == 1


async def test_every_node_settles_exactly_once_after_it_starts(
    executor: Executor, bus: InMemoryBus
) -> None:
    result = await run(executor, mixed_workflow())
    events = bus.events(result.execution_id)

    settled = [e for e in events if e.type in SETTLE_TYPES]
    assert sorted(e.node_id for e in settled) == sorted(result.nodes)
    for event in settled:
        node_events = [e for e in events if getattr(e, "node_id", None) == event.node_id]
        assert node_events[-1] is event
    assert {e.node_id: e.type for e in settled} == {
        "start": "node.completed",
        "check": "node.completed",
        "taken": "node.completed",
        "not_taken": "node.skipped",
        "flaky": "node.completed",
        "bad": "node.failed",
        "wait": "node.completed",
    }


async def test_node_events_carry_what_happened(executor: Executor, bus: InMemoryBus) -> None:
    result = await run(executor, mixed_workflow())
    by_type: dict[str, list[Any]] = {}
    for event in bus.events(result.execution_id):
        by_type.setdefault(event.type, []).append(event)

    retrying = by_type["node.retrying"]
    assert [(e.node_id, e.attempt, e.error.type) for e in retrying] == [("flaky", 1, "flaky")]
    failed = by_type["node.failed"][0]
    assert (failed.node_id, failed.attempts, failed.error.message) == ("bad", 1, "no")
    completed = {e.node_id: e for e in by_type["node.completed"]}
    assert completed["flaky"].attempts == 2
    assert completed["check"].ports == ["false"]
    final = by_type["execution.completed"][0]
    assert final.status is ExecutionStatus.SUCCEEDED
    assert final.duration_ms == result.duration_ms


async def test_a_failed_execution_ends_with_execution_failed(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = workflow(node("bad", "core.fail", params={"message": "no"}))
    result = await run(executor, wf)
    final = bus.events(result.execution_id)[-1]

    assert final.type == "execution.failed"
    assert final.error is not None
    assert "'bad'" in final.error.message


async def test_progress_events_come_between_started_and_completed(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("talk", "test.progress"),
        links=("start -> talk",),
    )
    result = await run(executor, wf, "hey")
    talk = [e for e in bus.events(result.execution_id) if getattr(e, "node_id", "") == "talk"]

    assert [e.type for e in talk] == [
        "node.started",
        "node.progress",
        "node.progress",
        "node.progress",
        "node.completed",
    ]
    assert [e.data for e in talk if e.type == "node.progress"] == [
        {"token": "h"},
        {"token": "e"},
        {"token": "y"},
    ]


async def test_executions_number_their_events_apart(executor: Executor, bus: InMemoryBus) -> None:
    plan = executor.compile(mixed_workflow())
    first, second = await asyncio.gather(executor.execute(plan), executor.execute(plan))

    for result in (first, second):
        seqs = [e.seq for e in bus.events(result.execution_id)]
        assert seqs == list(range(1, len(seqs) + 1))


class RecordingBus(InMemoryBus):
    """An in-memory bus that also keeps every event of every execution, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Event] = []

    def publish(self, event: Event) -> None:
        self.published.append(event)
        super().publish(event)


async def test_a_sub_workflow_reports_under_its_own_execution(
    registry: NodeRegistry, tmp_path: Path
) -> None:
    child = workflow(node("start", "trigger.manual"), name="child").to_document()
    (tmp_path / "child.json").write_text(json.dumps(child))
    parent = workflow(
        node("start", "trigger.manual"),
        node("call", "core.subworkflow", params={"workflow": "child.json", "input": "{{ 1 }}"}),
        links=("start -> call",),
    )
    bus = RecordingBus()
    executor = Executor(registry, bus=bus)
    plan = executor.compile(parent, source=str(tmp_path / "parent.json"))
    result = await executor.execute(plan)

    assert result.status is ExecutionStatus.SUCCEEDED
    children = [
        e
        for e in bus.published
        if e.type == "execution.started" and e.parent_execution_id == result.execution_id
    ]
    assert len(children) == 1
    child_events = bus.events(children[0].execution_id)
    assert [e.seq for e in child_events] == list(range(1, len(child_events) + 1))
    assert child_events[-1].type == "execution.completed"


# -- subscribers ----------------------------------------------------------------------


async def test_two_subscribers_both_get_the_whole_stream(
    executor: Executor, bus: InMemoryBus
) -> None:
    first = await subscribed(bus, "exec-1")
    second = await subscribed(bus, "exec-1")
    await executor.execute(
        executor.compile(mixed_workflow()), options=RunOptions(execution_id="exec-1")
    )

    async with asyncio.timeout(1):
        got_first, got_second = await first, await second
    assert got_first == got_second == bus.events("exec-1")
    assert got_first[-1].type == "execution.completed"


async def test_a_late_subscriber_gets_the_replay_then_live_events(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 0.05}),
        node("after"),
        links=("start -> wait", "wait -> after"),
    )
    handle = executor.start(executor.compile(wf))
    await asyncio.sleep(0.01)
    seen_before = len(bus.events(handle.execution_id))
    async with asyncio.timeout(1):
        events = await collect(bus, handle.execution_id)
    result = await handle.wait()

    assert 3 <= seen_before < len(events)  # some replayed, the rest seen live
    assert events == bus.events(result.execution_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "execution.completed"


async def test_subscribing_after_the_end_replays_everything(
    executor: Executor, bus: InMemoryBus
) -> None:
    result = await run(executor, mixed_workflow())
    async with asyncio.timeout(1):
        events = await collect(bus, result.execution_id)

    assert events == bus.events(result.execution_id)


async def test_subscribe_after_resumes_after_that_event(
    executor: Executor, bus: InMemoryBus
) -> None:
    result = await run(executor, mixed_workflow())
    everything = bus.events(result.execution_id)
    async with asyncio.timeout(1):
        resumed = await collect(bus, result.execution_id, after=4)
        nothing_left = await collect(bus, result.execution_id, after=len(everything))

    assert resumed == everything[4:]
    assert resumed[0].seq == 5
    assert nothing_left == []


async def test_subscribe_after_resumes_a_live_stream(executor: Executor, bus: InMemoryBus) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 0.05}),
        links=("start -> wait",),
    )
    handle = executor.start(executor.compile(wf))
    await asyncio.sleep(0.01)
    async with asyncio.timeout(1):
        resumed = await collect(bus, handle.execution_id, after=2)
    await handle.wait()

    assert [e.seq for e in resumed] == list(range(3, len(bus.events(handle.execution_id)) + 1))


async def test_a_subscriber_leaving_early_does_not_disturb_others(
    executor: Executor, bus: InMemoryBus
) -> None:
    async def first_two() -> list[Event]:
        async with aclosing(bus.subscribe("exec-2")) as stream:
            taken: list[Event] = []
            async for event in stream:
                taken.append(event)
                if len(taken) == 2:
                    return taken
        return taken

    quitter = asyncio.create_task(first_two())
    stayer = await subscribed(bus, "exec-2")
    await asyncio.sleep(0)
    await executor.execute(
        executor.compile(mixed_workflow()), options=RunOptions(execution_id="exec-2")
    )

    async with asyncio.timeout(1):
        assert [e.seq for e in await quitter] == [1, 2]
        assert await stayer == bus.events("exec-2")


# -- retention ------------------------------------------------------------------------


async def test_the_bus_keeps_only_the_newest_finished_executions(registry: NodeRegistry) -> None:
    bus = InMemoryBus(retain_events=10)
    executor = Executor(registry, bus=bus)
    wf = workflow(node("start", "trigger.manual"))  # four events per execution
    ids = [(await run(executor, wf)).execution_id for _ in range(4)]

    assert [len(bus.events(i)) for i in ids] == [0, 0, 4, 4]


async def test_a_watcher_keeps_its_stream_while_the_bus_retires_it(
    registry: NodeRegistry,
) -> None:
    bus = InMemoryBus(retain_events=4)
    executor = Executor(registry, bus=bus)
    wf = workflow(node("start", "trigger.manual"))
    old = (await run(executor, wf)).execution_id
    async with aclosing(bus.subscribe(old)) as stream:
        first = await anext(stream)
        await run(executor, wf)  # retires ``old`` while it is watched
        rest = [event async for event in stream]

    assert [first.seq, *(e.seq for e in rest)] == [1, 2, 3, 4]
    assert bus.events(old) == []  # dropped once its last watcher left


async def test_a_watcher_that_gives_up_on_an_unknown_execution_leaves_nothing(
    bus: InMemoryBus,
) -> None:
    with suppress(TimeoutError):
        async with asyncio.timeout(0.01):
            await collect(bus, "never-started")

    assert "never-started" not in bus._channels  # no memory held for it


# -- the store ------------------------------------------------------------------------


class RecordingStore:
    """Remembers every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def execution_started(self, result: ExecutionResult) -> None:
        self.calls.append(("started", result.model_copy(deep=True)))

    async def node_settled(self, execution_id: str, result: NodeResult) -> None:
        self.calls.append(("node", result))

    async def execution_finished(self, result: ExecutionResult) -> None:
        self.calls.append(("finished", result))


async def test_the_store_gets_every_node_result_then_the_final_result(
    registry: NodeRegistry,
) -> None:
    store = RecordingStore()
    executor = Executor(registry, store=store)
    result = await run(executor, mixed_workflow())

    kinds = [kind for kind, _ in store.calls]
    assert kinds == ["started", *["node"] * len(result.nodes), "finished"]
    started = store.calls[0][1]
    assert started.status is ExecutionStatus.RUNNING
    assert started.nodes == {}
    settled = {r.node_id: r for kind, r in store.calls if kind == "node"}
    assert settled == result.nodes
    assert store.calls[-1][1] == result


async def test_the_memory_store_holds_the_final_result(
    executor: Executor, store: MemoryStore
) -> None:
    result = await run(executor, mixed_workflow())

    stored = store.executions[result.execution_id]
    assert stored == result
    assert statuses(stored)["bad"] == "failed"
    assert stored.nodes["not_taken"].status is NodeStatus.SKIPPED


async def test_the_store_sees_node_results_while_the_execution_runs(
    executor: Executor, bus: InMemoryBus, store: MemoryStore
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 0.05}),
        links=("start -> wait",),
    )
    handle = executor.start(executor.compile(wf))
    await asyncio.sleep(0.02)
    running = store.executions[handle.execution_id]

    assert running.status is ExecutionStatus.RUNNING
    assert statuses(running) == {"start": "succeeded"}
    await handle.wait()
    assert statuses(store.executions[handle.execution_id]) == {
        "start": "succeeded",
        "wait": "succeeded",
    }
