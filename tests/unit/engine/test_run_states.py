"""The run's state machine: nodes and the execution change state only as
``tav.core.states`` allows; an illegal move is a bug of the engine (``InternalError``)
that ends the execution, never a state recorded or a node failed."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from tav.core.errors import InternalError
from tav.core.events import Event, NodeSkipped
from tav.core.results import ErrorInfo, NodeResult
from tav.core.states import NODE_TRANSITIONS, ExecutionStatus, NodeStatus
from tav.core.workflow import Workflow
from tav.engine import executor as executor_module
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor, Resume, RunOptions, _Run, _unrun
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, statuses, workflow

BOOM = ErrorInfo(type="boom", message="it broke")
EARLIER = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def executor(registry: NodeRegistry, bus: InMemoryBus) -> Executor:
    """Without a store: these tests move nodes of executions that were never started."""
    return Executor(registry, bus=bus)


def chain_of_three() -> Workflow:
    return workflow(
        node("start", "trigger.manual"),
        node("a"),
        node("b"),
        links=("start -> a", "a -> b"),
    )


def new_run(executor: Executor, options: RunOptions | None = None) -> _Run:
    return _Run(executor, executor.compile(chain_of_three()), None, options or RunOptions())


def settled(node_id: str, status: NodeStatus, **fields: object) -> NodeResult:
    return NodeResult.model_validate({"node_id": node_id, "status": status, **fields})


# -- nodes ----------------------------------------------------------------------------


async def test_a_node_moves_from_pending_through_running_to_succeeded(executor: Executor) -> None:
    run = new_run(executor)
    assert run.states == dict.fromkeys(["start", "a", "b"], NodeStatus.PENDING)
    run.started("a", 1)
    assert run.states["a"] is NodeStatus.RUNNING
    await run._settle(settled("a", NodeStatus.SUCCEEDED, attempts=1))
    assert run.states["a"] is NodeStatus.SUCCEEDED


async def test_a_settled_node_cannot_start_again(executor: Executor) -> None:
    run = new_run(executor)
    run.started("a", 1)
    await run._settle(settled("a", NodeStatus.SUCCEEDED, attempts=1))
    with pytest.raises(InternalError, match="node 'a' cannot move from succeeded to running"):
        run.started("a", 2)
    assert run.states["a"] is NodeStatus.SUCCEEDED


async def test_a_node_settles_once(executor: Executor) -> None:
    run = new_run(executor)
    await run._settle(_unrun("a", NodeStatus.CANCELLED))
    with pytest.raises(InternalError, match="from cancelled to cancelled"):
        await run._settle(_unrun("a", NodeStatus.CANCELLED))


async def test_a_pending_node_may_be_skipped(executor: Executor, bus: InMemoryBus) -> None:
    run = new_run(executor)
    await run._settle(_unrun("a", NodeStatus.SKIPPED), "its branch was not taken")
    assert run.states["a"] is NodeStatus.SKIPPED
    (event,) = bus.events(run.execution_id)
    assert isinstance(event, NodeSkipped)
    assert event.reason == "its branch was not taken"


async def test_a_running_node_cannot_be_skipped(executor: Executor) -> None:
    run = new_run(executor)
    run.started("a", 1)
    with pytest.raises(InternalError, match="from running to skipped"):
        await run._settle(_unrun("a", NodeStatus.SKIPPED))
    assert "a" not in run.results  # nothing recorded


async def test_a_node_that_never_ran_cannot_fail(executor: Executor) -> None:
    run = new_run(executor)
    with pytest.raises(InternalError, match="from pending to failed"):
        await run._settle(settled("a", NodeStatus.FAILED, error=BOOM))


async def test_a_retrying_node_runs_again_or_is_cancelled(executor: Executor) -> None:
    run = new_run(executor)
    run.started("a", 1)
    run.retrying("a", 1, 0.0, BOOM)
    with pytest.raises(InternalError, match="from retrying to failed"):
        await run._settle(settled("a", NodeStatus.FAILED, attempts=1, error=BOOM))
    run.started("a", 2)
    run.retrying("a", 2, 0.0, BOOM)
    await run._settle(_unrun("a", NodeStatus.CANCELLED, attempts=2))
    assert run.states["a"] is NodeStatus.CANCELLED


def test_every_node_state_has_its_moves_written_down() -> None:
    assert set(NODE_TRANSITIONS) == set(NodeStatus)
    assert all(not NODE_TRANSITIONS[status] for status in NodeStatus if status.is_terminal)


# -- the execution --------------------------------------------------------------------


async def test_an_execution_runs_once(executor: Executor) -> None:
    run = new_run(executor)
    assert run.status is ExecutionStatus.QUEUED
    result = await run.run()
    assert result.status is run.status is ExecutionStatus.SUCCEEDED
    with pytest.raises(InternalError, match="cannot move from succeeded to running"):
        await run.run()


async def test_an_execution_that_has_not_started_cannot_end_as_succeeded(
    executor: Executor,
) -> None:
    run = new_run(executor)
    with pytest.raises(InternalError, match="from queued to succeeded"):
        run._move_execution(ExecutionStatus.SUCCEEDED)
    run._move_execution(ExecutionStatus.CANCELLED)  # queued executions may be cancelled


async def test_an_illegal_move_ends_the_execution_instead_of_failing_a_node(
    executor: Executor, bus: InMemoryBus, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """The bug surfaces as the engine's error, at once: the node's error boundary does not
    record it as the node's failure, and the execution does not wait forever for a node
    task that died."""
    broken = {**NODE_TRANSITIONS, NodeStatus.PENDING: frozenset({NodeStatus.SKIPPED})}
    monkeypatch.setattr(executor_module, "NODE_TRANSITIONS", broken)
    plan = executor.compile(chain_of_three())
    with caplog.at_level(logging.WARNING, logger="tav.engine"):
        async with asyncio.timeout(5):
            with pytest.raises(InternalError, match="from pending to running"):
                await executor.execute(plan, options=RunOptions(execution_id="bug"))
    assert [event.type for event in bus.events("bug")] == ["execution.started"]
    assert "unexpected error" not in caplog.text


# -- resuming -------------------------------------------------------------------------


def resume_with(*results: NodeResult, last_seq: int = 5) -> RunOptions:
    return RunOptions(
        execution_id="resumed",
        resume=Resume(
            results={result.node_id: result for result in results},
            last_seq=last_seq,
            started_at=EARLIER,
        ),
    )


async def test_a_resumed_node_starts_in_its_stored_state(executor: Executor) -> None:
    run = new_run(executor, resume_with(settled("start", NodeStatus.SUCCEEDED, attempts=1)))
    assert run.states["start"] is NodeStatus.SUCCEEDED
    with pytest.raises(InternalError, match="from succeeded to running"):
        run.started("start", 1)


async def test_a_node_that_had_not_settled_cannot_be_resumed(executor: Executor) -> None:
    with pytest.raises(InternalError, match="node 'a' cannot resume running"):
        new_run(executor, resume_with(settled("a", NodeStatus.RUNNING)))


async def test_a_resumed_execution_runs_the_rest_and_numbers_on(
    executor: Executor, bus: InMemoryBus
) -> None:
    options = resume_with(
        settled("start", NodeStatus.SUCCEEDED, attempts=1, outputs={"output": {"n": 1}}),
        settled("a", NodeStatus.SUCCEEDED, attempts=1, outputs={"output": {"n": 2}}),
    )
    result = await executor.execute(executor.compile(chain_of_three()), options=options)
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.started_at == EARLIER
    assert result.nodes["b"].outputs == {"output": {"n": 2}}
    events: list[Event] = bus.events("resumed")
    assert [(e.seq, e.type) for e in events] == [
        (6, "node.started"),
        (7, "node.completed"),
        (8, "execution.completed"),
    ]
    assert statuses(result) == dict.fromkeys(["start", "a", "b"], "succeeded")


async def test_a_resumed_failure_under_stop_fails_the_execution(
    executor: Executor, bus: InMemoryBus
) -> None:
    options = resume_with(
        settled("start", NodeStatus.SUCCEEDED, attempts=1, outputs={"output": 1}),
        settled("a", NodeStatus.FAILED, attempts=1, error=BOOM),
    )
    result = await executor.execute(executor.compile(chain_of_three()), options=options)
    assert result.status is ExecutionStatus.FAILED
    assert result.error == ErrorInfo(type="boom", message="node 'a' failed: it broke")
    assert statuses(result) == {"start": "succeeded", "a": "failed", "b": "cancelled"}
    assert [e.type for e in bus.events("resumed")] == ["node.cancelled", "execution.failed"]
