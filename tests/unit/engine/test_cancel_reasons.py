"""Why a node was cancelled: the execution was cancelled, a node it depends on failed
under ``stop`` (it never ran), or another node failed under ``stop``."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import Any

from tav.core.events import NodeCancelled, NodeStarted
from tav.core.results import ExecutionResult
from tav.core.states import CancelReason, ExecutionStatus
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.memory import MemoryStore
from tests.helpers import node, run, statuses, workflow


def failing_beside_a_delay() -> Any:
    """``bad`` fails while ``slow`` runs on another branch; each has nodes after it, and
    ``both`` waits for the two."""
    return workflow(
        node("start", "trigger.manual"),
        node("gate", "core.delay", params={"seconds": 0.02}),
        node("bad", "test.raise", params={"message": "broken"}),
        node("after_bad"),
        node("after_after_bad"),
        node("slow", "core.delay", params={"seconds": 5}),
        node("after_slow"),
        node("both", "core.merge"),
        links=(
            "start -> gate",
            "gate -> bad",
            "bad -> after_bad",
            "after_bad -> after_after_bad",
            "start -> slow",
            "slow -> after_slow",
            "bad -> both",
            "slow -> both",
        ),
    )


def reasons(result: ExecutionResult) -> dict[str, str | None]:
    return {
        node_id: node.reason.value if node.reason else None
        for node_id, node in result.nodes.items()
    }


def cancelled_events(bus: InMemoryBus, result: ExecutionResult) -> dict[str, CancelReason]:
    events = bus.events(result.execution_id)
    return {e.node_id: e.reason for e in events if isinstance(e, NodeCancelled)}


async def test_a_failure_tells_the_nodes_after_it_from_those_beside_it(
    executor: Executor, bus: InMemoryBus
) -> None:
    result = await asyncio.wait_for(run(executor, failing_beside_a_delay()), 2)

    assert result.status is ExecutionStatus.FAILED
    assert statuses(result) == {
        "start": "succeeded",
        "gate": "succeeded",
        "bad": "failed",
        "after_bad": "cancelled",
        "after_after_bad": "cancelled",
        "slow": "cancelled",
        "after_slow": "cancelled",
        "both": "cancelled",
    }
    assert reasons(result) == {
        "start": None,
        "gate": None,
        "bad": None,
        "after_bad": "upstream_failed",  # right after the failure
        "after_after_bad": "upstream_failed",  # through a node cancelled for it
        "slow": "sibling_failed",  # stopped while running
        "after_slow": "sibling_failed",  # never started, the failure is not upstream
        "both": "upstream_failed",  # one of its two upstream nodes failed
    }
    assert result.nodes["after_bad"].attempts == 0
    assert result.nodes["after_bad"].error is None


async def test_the_events_carry_the_reasons_of_the_results(
    executor: Executor, bus: InMemoryBus
) -> None:
    result = await asyncio.wait_for(run(executor, failing_beside_a_delay()), 2)

    assert cancelled_events(bus, result) == {
        node_id: node.reason for node_id, node in result.nodes.items() if node.reason
    }


async def test_the_store_keeps_the_reasons(executor: Executor, store: MemoryStore) -> None:
    result = await asyncio.wait_for(run(executor, failing_beside_a_delay()), 2)

    stored = store.executions[result.execution_id]
    assert stored.nodes["after_bad"].reason is CancelReason.UPSTREAM_FAILED
    assert stored.nodes["slow"].reason is CancelReason.SIBLING_FAILED
    nodes = stored.to_json()["nodes"]
    assert nodes["after_bad"]["reason"] == "upstream_failed"
    assert "reason" not in nodes["bad"]  # only cancelled nodes have one


async def test_cancelling_the_execution_says_cancelled(
    executor: Executor, bus: InMemoryBus
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 10}),
        node("after"),
        links=("start -> wait", "wait -> after"),
    )
    handle = executor.start(executor.compile(wf))
    async with asyncio.timeout(2), aclosing(bus.subscribe(handle.execution_id)) as events:
        async for event in events:
            if isinstance(event, NodeStarted) and event.node_id == "wait":
                break
    handle.cancel()
    result = await handle.wait()

    assert result.status is ExecutionStatus.CANCELLED
    assert reasons(result) == {"start": None, "wait": "cancelled", "after": "cancelled"}
    assert set(cancelled_events(bus, result).values()) == {CancelReason.CANCELLED}


async def test_nodes_after_a_failure_under_continue_are_skipped_without_a_reason(
    executor: Executor,
) -> None:
    wf = workflow(
        node("start", "trigger.manual"),
        node("bad", "test.raise", params={"message": "broken"}, on_error="continue"),
        node("after"),
        links=("start -> bad", "bad -> after"),
    )
    result = await run(executor, wf)

    assert statuses(result)["after"] == "skipped"
    assert result.nodes["after"].reason is None
