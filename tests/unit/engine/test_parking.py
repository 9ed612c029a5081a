"""Nodes that park their execution (``ctx.park``): the run ends ``waiting``, holding
nothing; resumed with the wait's outcome, the node settles without running again — or,
parked with state, runs again with it and the outcome (``ctx.resumed``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tav.core.errors import NodeError, WorkflowInvalid
from tav.core.events import utcnow
from tav.core.results import ErrorInfo, ExecutionResult
from tav.core.states import CancelReason, ExecutionStatus, NodeStatus
from tav.core.waits import (
    MAX_STATE_BYTES,
    Rerun,
    WaitMode,
    WaitOutcome,
    WaitRequest,
    timer_outcome,
)
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor, Resume, RunOptions
from tav.engine.memory import MemoryStore, MemoryWaits
from tav.nodes.base import Node, NodeSpec, Outputs
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.context import Credential, NodeContext
from tav.nodes.host import WAITS, HostServices
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
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


# -- a node that parks with state runs again with it -------------------------------------


class Tally(Node):
    """Asks for approval until it has two answers; its state counts its runs."""

    spec = NodeSpec(type="test.tally", category="testing")
    requires = (WAITS,)

    async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
        resumed = ctx.resumed
        state: dict[str, Any] = {"runs": 0, "answers": [], "input": input}
        if resumed is not None:
            state = {**resumed.state, "answers": [*resumed.state["answers"]]}
            error = resumed.outcome.error
            if error is not None:
                raise NodeError(error.message, type=error.type)
            state["answers"].append(resumed.outcome.port)
        state["runs"] += 1
        if len(state["answers"]) < 2:
            request = WaitRequest(mode=WaitMode.APPROVAL, title=f"Answer {len(state['answers'])}")
            await ctx.park(request, state=state)
        return {"output": state}


@pytest.fixture
def tally_executor(bus: InMemoryBus, store: MemoryStore, waits: MemoryWaits) -> Executor:
    registry = NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES, Tally])
    return Executor(registry, bus=bus, store=store, services=HostServices(waits=waits))


def tally_flow() -> Any:
    return workflow(
        node("start", "trigger.manual"),
        node("tally", "test.tally"),
        node("out", "core.output"),
        links=("start -> tally", "tally -> out"),
    )


def decided(waits: MemoryWaits, parked: ExecutionResult, port: str, **extra: Any) -> WaitOutcome:
    """The outcome of the node's open wait, as the host gives it when it resumes."""
    request = waits.opened[(parked.execution_id, "tally")]
    assert request.rerun
    assert request.state is not None
    rerun = Rerun(seq=request.seq, state=request.state)
    return WaitOutcome(port=port, value={"decision": port}, rerun=rerun, **extra)


async def test_a_node_parked_with_state_runs_again_with_it_and_may_wait_again(
    tally_executor: Executor, waits: MemoryWaits, bus: InMemoryBus
) -> None:
    wf = tally_flow()
    parked = await run(tally_executor, wf)
    assert parked.status is ExecutionStatus.WAITING
    first = waits.opened[(parked.execution_id, "tally")]
    assert (first.seq, first.rerun, first.state) == (
        0,
        True,
        {"runs": 1, "answers": [], "input": {"n": 1}},
    )

    outcome = decided(waits, parked, "approved")
    again = await run(tally_executor, wf, resumed(parked, {"tally": outcome}, bus))
    assert again.status is ExecutionStatus.WAITING  # it waits a second time
    second = waits.opened[(parked.execution_id, "tally")]
    assert (second.seq, second.title) == (1, "Answer 1")
    assert second.state == {"runs": 2, "answers": ["approved"], "input": {"n": 1}}

    outcome = decided(waits, again, "rejected")
    done = await run(tally_executor, wf, resumed(again, {"tally": outcome}, bus))
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.output == {"runs": 3, "answers": ["approved", "rejected"], "input": {"n": 1}}
    events = [(e.type, getattr(e, "node_id", "")) for e in bus.events(parked.execution_id)]
    assert events.count(("node.started", "tally")) == 3
    assert events.count(("node.waiting", "tally")) == 2
    assert events.count(("node.completed", "tally")) == 1
    assert [e.seq for e in bus.events(parked.execution_id)] == list(range(1, len(events) + 1))


async def test_a_node_parked_with_state_is_told_its_wait_failed(
    tally_executor: Executor, waits: MemoryWaits, bus: InMemoryBus
) -> None:
    wf = tally_flow()
    parked = await run(tally_executor, wf)
    error = ErrorInfo(type="wait_timeout", message="nobody decided before the timeout")
    outcome = decided(waits, parked, "timeout").model_copy(update={"port": None, "error": error})
    done = await run(tally_executor, wf, resumed(parked, {"tally": outcome}, bus))
    assert done.status is ExecutionStatus.FAILED
    assert done.nodes["tally"].error == error


async def test_a_node_parked_with_state_and_not_decided_waits_on_and_is_cancelled(
    tally_executor: Executor, bus: InMemoryBus
) -> None:
    wf = tally_flow()
    parked = await run(tally_executor, wf)
    still = await run(tally_executor, wf, resumed(parked, {}, bus))
    assert still.status is ExecutionStatus.WAITING
    handle = tally_executor.start(tally_executor.compile(wf), None, resumed(still, {}, bus))
    handle.cancel()
    result = await handle.wait()
    assert result.nodes["tally"].status is NodeStatus.CANCELLED


class Hoarder(Node):
    """Parks with the state its input says: too much of it, or a secret."""

    spec = NodeSpec(type="test.hoarder", category="testing")
    requires = (WAITS,)

    async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
        if input.get("credential"):
            secret = (await ctx.credential(input["credential"])).data["api_key"]
            state = {"said": f"the key is {secret}"}
        else:
            state = {"blob": "x" * (MAX_STATE_BYTES + 1)}
        await ctx.park(WaitRequest(mode=WaitMode.APPROVAL), state=state)
        return {}


class Secrets:
    """One credential whose secret is redacted once revealed."""

    async def reveal(self, credential_id: str) -> Credential:
        return Credential(credential_id, "key", "api_key", {"api_key": "sk-very-secret"})

    def redact(self, text: str) -> str:
        return text.replace("sk-very-secret", "[redacted]")


async def test_a_state_too_large_fails_the_node_and_secrets_are_redacted_from_it(
    bus: InMemoryBus, store: MemoryStore, waits: MemoryWaits
) -> None:
    registry = NodeRegistry([*BUILTIN_NODE_TYPES, Hoarder])
    executor = Executor(
        registry, bus=bus, store=store, services=HostServices(waits=waits), secrets=Secrets()
    )
    wf = workflow(node("start", "trigger.manual"), node("h", "test.hoarder"), links=("start -> h",))
    failed = await executor.execute(executor.compile(wf), {})
    assert failed.status is ExecutionStatus.FAILED
    error = failed.nodes["h"].error
    assert error is not None
    assert error.type == "wait_state_too_large"
    assert f"more than the {MAX_STATE_BYTES:,}" in error.message

    parked = await executor.execute(executor.compile(wf), {"credential": "c1"})
    assert parked.status is ExecutionStatus.WAITING
    assert waits.opened[(parked.execution_id, "h")].state == {"said": "the key is [redacted]"}


class Settler(Node):
    """Parks with state once; run again, parks a last time without it (to settle)."""

    spec = NodeSpec(type="test.settler", category="testing")
    requires = (WAITS,)

    async def run(self, params: Any, input: Any, ctx: NodeContext) -> Outputs:
        request = WaitRequest(mode=WaitMode.APPROVAL)
        if ctx.resumed is None:
            await ctx.park(request, state={"first": True})
        await ctx.park(request.model_copy(update={"title": "last"}))
        return {}


async def test_a_node_run_again_that_parks_without_state_waits_under_its_next_number(
    bus: InMemoryBus, store: MemoryStore, waits: MemoryWaits
) -> None:
    registry = NodeRegistry([*BUILTIN_NODE_TYPES, Settler])
    executor = Executor(registry, bus=bus, store=store, services=HostServices(waits=waits))
    wf = workflow(node("start", "trigger.manual"), node("s", "test.settler"), links=("start -> s",))
    parked = await executor.execute(executor.compile(wf), {})
    first = waits.opened[(parked.execution_id, "s")]
    outcome = WaitOutcome(port="approved", value={}, rerun=Rerun(seq=0, state=first.state or {}))
    again = await executor.execute(executor.compile(wf), {}, resumed(parked, {"s": outcome}, bus))
    assert again.status is ExecutionStatus.WAITING
    last = waits.opened[(parked.execution_id, "s")]
    assert (last.seq, last.title, last.rerun, last.state) == (1, "last", False, None)
    done = await executor.execute(
        executor.compile(wf), {}, resumed(again, {"s": WaitOutcome(port="approved")}, bus)
    )
    assert done.nodes["s"].outputs == {"approved": None}
