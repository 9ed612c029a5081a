"""``RunOptions(inline=True)``: an execution that is part of a node of another (``core.map``'s
runs) stores nothing and publishes no events, but runs and ends as any other."""

from __future__ import annotations

import asyncio

from tav.core.states import ExecutionStatus, NodeStatus
from tav.core.workflow import Workflow
from tav.engine.executor import RunOptions
from tests.helpers import node, run, workflow


def flow() -> Workflow:
    return workflow(
        node("start", "trigger.manual"),
        node("shape", "core.set", params={"values": {"n": "{{ trigger.n + 1 }}"}}),
        node("out", "core.output"),
        links=("start -> shape", "shape -> out"),
    )


async def test_an_inline_run_returns_its_result_and_leaves_no_trace(executor, bus, store):
    result = await run(executor, flow(), {"n": 1}, RunOptions(inline=True))

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.output == {"n": 2}
    assert result.nodes["out"].status is NodeStatus.SUCCEEDED
    assert bus.events(result.execution_id) == []
    assert store.executions == {}


async def test_a_run_that_is_not_inline_is_stored_and_published(executor, bus, store):
    result = await run(executor, flow(), {"n": 1})

    assert bus.events(result.execution_id)[-1].type == "execution.completed"
    assert store.executions[result.execution_id].output == {"n": 2}


async def test_an_inline_run_is_cancelled_as_any_other(executor, store):
    slow = workflow(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": 30}),
        links=("start -> wait",),
    )
    plan = executor.compile(slow)
    task = asyncio.create_task(executor.execute(plan, None, RunOptions(inline=True)))
    await asyncio.sleep(0.05)

    task.cancel()
    done, _ = await asyncio.wait([task], timeout=1)

    assert done == {task}
    assert task.cancelled()
    assert store.executions == {}
