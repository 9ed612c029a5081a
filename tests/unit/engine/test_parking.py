"""Nodes that park their execution (``ctx.park``): the run ends ``waiting``, holding
nothing; resumed with the wait's outcome, the node settles without running again."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tav.core.errors import WorkflowInvalid
from tav.core.events import utcnow
from tav.core.results import ErrorInfo, ExecutionResult
from tav.core.states import CancelReason, ExecutionStatus, NodeStatus
from tav.core.waits import WaitMode, WaitOutcome, timer_outcome
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor, Resume, RunOptions
from tav.engine.memory import MemoryStore, MemoryWaits
from tav.nodes.host import HostServices
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, statuses, workflow

APPROVAL = {"mode": "approval", "title": "Ship it?"}


@pytest.fixture
def waits() -> MemoryWaits:
    return MemoryWaits()


@pytest.fixture
def executor(
    registry: NodeRegistry, bus: InMemoryBus, store: MemoryStore, waits: MemoryWaits
) -> Executor:
    return Executor(registry, bus=bus, store=store, services=HostServices(waits=waits))


def approval_flow(**extra: Any) -> Any:
    """start -> ask (approval) -> yes | no; start -> side (runs meanwhile)."""
    return workflow(
        node("start", "trigger.manual"),
        node("ask", "core.wait", params=APPROVAL, **extra),
        node("yes", "core.noop"),
        node("no", "core.noop"),
        node("side", "core.set", params={"values": {"link": "{{ execution.resume_url('ask') }}"}}),
        links=("start -> ask", "ask:approved -> yes", "ask:rejected -> no", "start -> side"),
    )


async def run(executor: Executor, wf: Any, options: RunOptions | None = None) -> ExecutionResult:
    return await executor.execute(executor.compile(wf), {"n": 1}, options)


def resumed(
    parked: ExecutionResult, settles: dict[str, WaitOutcome], bus: InMemoryBus
) -> RunOptions:
    """How a host resumes ``parked`` with these outcomes."""
    last_seq = max(e.seq for e in bus.events(parked.execution_id))
    resume = Resume(
        results=parked.nodes, last_seq=last_seq, started_at=parked.started_at, settles=settles
    )
    return RunOptions(execution_id=parked.execution_id, resume=resume)


async def test_a_wait_parks_the_execution_once_every_other_node_has_settled(
    executor: Executor, waits: MemoryWaits, bus: InMemoryBus
) -> None:
    parked = await run(executor, approval_flow())
    assert parked.status is ExecutionStatus.WAITING
    assert statuses(parked) == {"start": "succeeded", "ask": "waiting", "side": "succeeded"}
    assert parked.finished_at is None
    assert parked.nodes["side"].outputs["output"]["link"] == f"memory:{parked.execution_id}/ask"
    request = waits.opened[(parked.execution_id, "ask")]
    assert request.mode is WaitMode.APPROVAL
    assert request.title == "Ship it?"
    types = [(e.type, getattr(e, "node_id", "")) for e in bus.events(parked.execution_id)]
    assert ("node.waiting", "ask") in types
    assert types[-1] == ("execution.waiting", "")


async def test_resumed_with_its_outcome_the_node_settles_and_the_execution_goes_on(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = approval_flow()
    parked = await run(executor, wf)
    before = len(bus.events(parked.execution_id))
    outcome = WaitOutcome(port="approved", value={"decision": "approve"})
    done = await run(executor, wf, resumed(parked, {"ask": outcome}, bus))
    assert done.status is ExecutionStatus.SUCCEEDED
    assert statuses(done) == {
        "start": "succeeded",
        "ask": "succeeded",
        "side": "succeeded",
        "yes": "succeeded",
        "no": "skipped",
    }
    assert done.nodes["ask"].outputs == {"approved": {"decision": "approve"}}
    assert done.nodes["ask"].attempts == 1
    events = bus.events(parked.execution_id)[before:]
    assert [e.seq for e in events] == list(range(before + 1, before + 1 + len(events)))
    assert [e.type for e in events][:1] == ["node.completed"]  # the wait settled first


async def test_a_timer_outcome_passes_the_nodes_input_on(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("pause", "core.wait", params={"mode": "timer", "duration": "1h"}),
        node("out", "core.output"),
        links=("start -> pause", "pause -> out"),
    )
    parked = await run(executor, wf)
    assert parked.status is ExecutionStatus.WAITING
    done = await run(executor, wf, resumed(parked, {"pause": timer_outcome()}, bus))
    assert done.output == {"n": 1}


async def test_a_timer_already_due_does_not_park(executor: Executor, waits: MemoryWaits) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("pause", "core.wait", params={"mode": "timer", "until": "2000-01-01T00:00:00"}),
        links=("start -> pause",),
    )
    result = await run(executor, wf)
    assert result.status is ExecutionStatus.SUCCEEDED
    assert waits.opened == {}


async def test_a_wait_not_decided_waits_on_while_another_resumes(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("a", "core.wait", params=APPROVAL),
        node("b", "core.wait", params=APPROVAL),
        node("after_a", "core.noop"),
        links=("start -> a", "start -> b", "a:approved -> after_a"),
    )
    parked = await run(executor, wf)
    outcome = WaitOutcome(port="approved", value={})
    again = await run(executor, wf, resumed(parked, {"a": outcome}, bus))
    assert again.status is ExecutionStatus.WAITING
    assert statuses(again) == {
        "start": "succeeded",
        "a": "succeeded",
        "after_a": "succeeded",
        "b": "waiting",
    }


async def test_a_failed_wait_goes_down_error_under_branch(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("ask", "core.wait", params=APPROVAL, on_error="branch"),
        node("handle", "core.noop"),
        links=("start -> ask", "ask:error -> handle"),
    )
    parked = await run(executor, wf)
    error = ErrorInfo(type="wait_timeout", message="nobody decided before the timeout")
    done = await run(executor, wf, resumed(parked, {"ask": WaitOutcome(error=error)}, bus))
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.nodes["ask"].status is NodeStatus.FAILED
    assert done.nodes["handle"].outputs["output"]["type"] == "wait_timeout"


async def test_a_failed_wait_fails_the_execution_under_stop(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = approval_flow()
    parked = await run(executor, wf)
    error = ErrorInfo(type="wait_timeout", message="nobody decided before the timeout")
    done = await run(executor, wf, resumed(parked, {"ask": WaitOutcome(error=error)}, bus))
    assert done.status is ExecutionStatus.FAILED
    assert done.error is not None
    assert done.error.type == "wait_timeout"
    assert done.nodes["yes"].status is NodeStatus.CANCELLED


async def test_a_failure_elsewhere_cancels_the_node_that_waits(executor: Executor) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("ask", "core.wait", params=APPROVAL),
        node("later", "core.delay", params={"seconds": 0.05}),
        node("boom", "core.fail", params={"message": "no"}),
        links=("start -> ask", "start -> later", "later -> boom"),
    )
    result = await run(executor, wf)
    assert result.status is ExecutionStatus.FAILED
    assert result.nodes["ask"].status is NodeStatus.CANCELLED
    assert result.nodes["ask"].reason is CancelReason.SIBLING_FAILED


async def test_cancelling_while_a_node_waits_and_another_runs_cancels_both(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("ask", "core.wait", params=APPROVAL),
        node("slow", "core.delay", params={"seconds": 10}),
        links=("start -> ask", "start -> slow"),
    )
    handle = executor.start(executor.compile(wf))
    async for event in bus.subscribe(handle.execution_id):
        if event.type == "node.waiting":
            break
    handle.cancel()
    result = await handle.wait()
    assert result.status is ExecutionStatus.CANCELLED
    assert statuses(result) == {"start": "succeeded", "ask": "cancelled", "slow": "cancelled"}


async def test_resumed_and_cancelled_its_waiting_nodes_and_theirs_are_cancelled(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = approval_flow()
    parked = await run(executor, wf)
    handle = executor.start(executor.compile(wf), None, resumed(parked, {}, bus))
    handle.cancel()
    result = await handle.wait()
    assert result.status is ExecutionStatus.CANCELLED
    assert result.nodes["ask"].status is NodeStatus.CANCELLED
    assert result.nodes["yes"].status is NodeStatus.CANCELLED
    assert handle.waiting == ()


async def test_the_handle_names_the_nodes_a_parked_run_waits_on(executor: Executor) -> None:
    handle = executor.start(executor.compile(approval_flow()))
    result = await handle.wait()
    assert result.status is ExecutionStatus.WAITING
    assert handle.waiting == ("ask",)


async def test_a_wait_inside_a_sub_workflow_is_refused_for_now(
    executor: Executor, tmp_path: Any
) -> None:
    child = tmp_path / "child.json"
    child.write_text(
        '{"schema": 1, "name": "child", "nodes": [{"id": "s", "type": "trigger.manual"},'
        '{"id": "w", "type": "core.wait", "params": {"mode": "approval"}}],'
        '"edges": [{"from": "s", "to": "w"}]}'
    )
    wf = workflow(
        node("start", "trigger.manual"),
        node("call", "core.subworkflow", params={"workflow": str(child)}),
        links=("start -> call",),
    )
    result = await executor.execute(executor.compile(wf))
    assert result.status is ExecutionStatus.FAILED
    assert "not supported yet" in (
        result.nodes["call"].error.message if result.nodes["call"].error else ""
    )


async def test_execution_in_templates_stays_data(executor: Executor) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("show", "core.set", params={"values": {"execution": "{{ execution }}"}}),
        links=("start -> show",),
    )
    result = await run(executor, wf)
    shown = result.nodes["show"].outputs["output"]["execution"]
    assert set(shown) == {"id", "started_at", "workflow"}


async def test_a_wait_does_not_compile_on_a_host_without_waits(registry: NodeRegistry) -> None:
    executor = Executor(registry)
    with pytest.raises(WorkflowInvalid, match="durable waits"):
        executor.compile(approval_flow())


def test_the_resume_options_keep_what_they_were_given() -> None:
    resume = Resume(results={}, last_seq=3, started_at=utcnow())
    assert dict(resume.settles) == {}
    assert replace(resume, last_seq=4).last_seq == 4


async def test_a_parked_execution_that_resumes_is_followed_again_on_the_bus(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = approval_flow()
    parked = await run(executor, wf)
    first = [e.type async for e in bus.subscribe(parked.execution_id)]
    assert first[-1] == "execution.waiting"  # a stream ends there
    outcome = WaitOutcome(port="approved", value={})
    handle = executor.start(executor.compile(wf), None, resumed(parked, {"ask": outcome}, bus))
    after = len(first)
    following = [e.type async for e in bus.subscribe(parked.execution_id, after=after)]
    await handle.wait()
    assert following[0] == "node.completed"
    assert following[-1] == "execution.completed"
