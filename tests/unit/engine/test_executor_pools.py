"""Resource pools bound how many nodes of a kind run at once, across executions."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from tav.core.results import NodeResult
from tav.core.states import ExecutionStatus
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.pools import Pools
from tav.nodes.base import Node, NodeSpec, Outputs
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.context import NodeContext
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tests.helpers import node, run, workflow


@dataclass
class Gauge:
    """Counts how many nodes run at once."""

    now: int = 0
    peak: int = 0
    runs: int = 0

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.now += 1
        self.runs += 1
        self.peak = max(self.peak, self.now)
        try:
            yield
        finally:
            self.now -= 1


def gauged_node(pool_name: str, gauge: Gauge) -> type[Node]:
    """A node type in pool ``pool_name`` that waits 50 ms while ``gauge`` watches."""

    class Gauged(Node):
        spec = NodeSpec(type="probe.gauged", category="testing")
        pool = pool_name

        async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
            async with gauge.running():
                await asyncio.sleep(0.05)
            return {"output": input}

    return Gauged


def registry_with(*extra: type[Node]) -> NodeRegistry:
    return NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES, *extra])


def fan_out(type_: str, count: int, **fields: Any) -> Any:
    ids = [f"n{i}" for i in range(count)]
    return workflow(
        node("start", "trigger.manual"),
        *(node(i, type_, **fields) for i in ids),
        links=tuple(f"start -> {i}" for i in ids),
    )


async def peak_while(pools: Pools, pool: str, work: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``work`` while sampling ``pools.in_use(pool)``; its result and the peak seen."""
    peak = 0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, pools.in_use(pool))
            await asyncio.sleep(0.002)

    sampler = asyncio.create_task(sample())
    try:
        result = await work()
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    return result, peak


def started_at(result: NodeResult) -> datetime:
    assert result.started_at is not None
    return result.started_at


async def test_a_cpu_pool_of_one_runs_spin_nodes_one_at_a_time(registry: NodeRegistry) -> None:
    pools = Pools({"cpu": 1})
    executor = Executor(registry, pools=pools)
    wf = fan_out("test.spin", 3, params={"seconds": 0.05})
    clock = time.perf_counter()
    result, peak = await peak_while(pools, "cpu", lambda: run(executor, wf))

    assert result.status is ExecutionStatus.SUCCEEDED
    assert peak == 1
    assert time.perf_counter() - clock >= 0.15
    assert pools.in_use("cpu") == 0


async def test_a_wider_cpu_pool_runs_spin_nodes_together(registry: NodeRegistry) -> None:
    pools = Pools({"cpu": 3})
    executor = Executor(registry, pools=pools)
    wf = fan_out("test.spin", 3, params={"seconds": 0.1})
    clock = time.perf_counter()
    _, peak = await peak_while(pools, "cpu", lambda: run(executor, wf))

    assert peak == 3
    assert time.perf_counter() - clock < 0.25  # one at a time would take 0.3 s


async def test_a_custom_pool_limits_its_nodes() -> None:
    gauge = Gauge()
    pools = Pools({"custom": 2})
    executor = Executor(registry_with(gauged_node("custom", gauge)), pools=pools)
    clock = time.perf_counter()
    result = await run(executor, fan_out("probe.gauged", 5))

    assert result.status is ExecutionStatus.SUCCEEDED
    assert gauge.peak == 2
    assert gauge.runs == 5
    assert time.perf_counter() - clock >= 0.15  # three rounds of 50 ms


async def test_a_pool_without_a_limit_gets_the_default() -> None:
    gauge = Gauge()
    pools = Pools(default_limit=3)
    executor = Executor(registry_with(gauged_node("unheard_of", gauge)), pools=pools)
    await run(executor, fan_out("probe.gauged", 6))

    assert gauge.peak == 3


async def test_nodes_without_a_pool_are_not_limited() -> None:
    pools = Pools({"cpu": 1, "http": 1, "llm": 1}, default_limit=1)
    executor = Executor(registry_with(), pools=pools)
    clock = time.perf_counter()
    await run(executor, fan_out("core.delay", 5, params={"seconds": 0.05}))

    assert time.perf_counter() - clock < 0.15


async def test_a_pool_is_shared_by_every_execution_of_an_executor() -> None:
    gauge = Gauge()
    executor = Executor(registry_with(gauged_node("custom", gauge)), pools=Pools({"custom": 1}))
    plan = executor.compile(fan_out("probe.gauged", 2))
    clock = time.perf_counter()
    results = await asyncio.gather(executor.execute(plan), executor.execute(plan))

    assert all(r.status is ExecutionStatus.SUCCEEDED for r in results)
    assert gauge.peak == 1
    assert time.perf_counter() - clock >= 0.2


async def test_a_slot_is_given_back_when_a_node_fails_or_is_cancelled() -> None:
    pools = Pools({"custom": 1})
    executor = Executor(registry_with(gauged_node("custom", Gauge())), pools=pools)
    wf = fan_out("probe.gauged", 2, timeout_s=0.01, on_error="continue")
    await run(executor, wf)
    assert pools.in_use("custom") == 0

    handle = executor.start(executor.compile(fan_out("probe.gauged", 3)))
    await asyncio.sleep(0.02)
    handle.cancel()
    await handle.wait()
    assert pools.in_use("custom") == 0


async def test_a_node_waiting_for_a_slot_is_not_yet_running(bus: InMemoryBus) -> None:
    pools = Pools({"custom": 1})
    executor = Executor(registry_with(gauged_node("custom", Gauge())), bus=bus, pools=pools)
    result = await run(executor, fan_out("probe.gauged", 2))

    first, second = sorted((result.nodes["n0"], result.nodes["n1"]), key=started_at)
    assert first.finished_at is not None
    assert started_at(second) >= first.finished_at
    assert all(r.duration_ms is not None and r.duration_ms < 90 for r in (first, second))
    events = [(e.type, getattr(e, "node_id", "")) for e in bus.events(result.execution_id)]
    assert events.index(("node.completed", first.node_id)) < events.index(
        ("node.started", second.node_id)
    )


class Crunch(Node):
    """Declares the cpu pool and still hands its work to a thread."""

    spec = NodeSpec(type="probe.crunch", category="testing")
    pool = "cpu"

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": await ctx.to_thread(sum, input)}


async def test_a_cpu_pool_node_may_use_a_thread_without_deadlock() -> None:
    pools = Pools({"cpu": 1})
    executor = Executor(registry_with(Crunch), pools=pools)
    wf = fan_out("probe.crunch", 2)
    async with asyncio.timeout(2):
        result = await run(executor, wf, [1, 2, 3])

    assert [result.nodes[n].outputs for n in ("n0", "n1")] == [{"output": 6}] * 2
    assert pools.in_use("cpu") == 0


# -- a node's own pool ----------------------------------------------------------------------


async def test_a_nodes_own_pool_limits_ten_delays_to_two_at_a_time() -> None:
    pools = Pools({"slow": 2})
    executor = Executor(registry_with(), pools=pools)
    wf = fan_out("core.delay", 10, params={"seconds": 0.05}, pool="slow")
    clock = time.perf_counter()
    result, peak = await peak_while(pools, "slow", lambda: run(executor, wf))

    assert result.status is ExecutionStatus.SUCCEEDED
    assert peak == 2
    assert time.perf_counter() - clock >= 0.25  # five rounds of 50 ms
    assert pools.in_use("slow") == 0


async def test_a_nodes_own_pool_replaces_its_types_pool() -> None:
    gauge = Gauge()
    pools = Pools({"custom": 1, "wide": 3})
    executor = Executor(registry_with(gauged_node("custom", gauge)), pools=pools)
    wf = fan_out("probe.gauged", 3, pool="wide")
    plan = executor.compile(wf)
    result, peak = await peak_while(pools, "wide", lambda: executor.execute(plan))

    assert result.status is ExecutionStatus.SUCCEEDED
    assert {node.pool for node in plan.nodes.values()} == {None, "wide"}  # the trigger: none
    assert gauge.peak == 3
    assert peak == 3


async def test_only_the_nodes_that_name_a_pool_share_it() -> None:
    pools = Pools({"slow": 1})
    executor = Executor(registry_with(), pools=pools)
    wf = workflow(
        node("start", "trigger.manual"),
        node("a", "core.delay", params={"seconds": 0.05}, pool="slow"),
        node("b", "core.delay", params={"seconds": 0.05}, pool="slow"),
        node("c", "core.delay", params={"seconds": 0.05}),
        links=("start -> a", "start -> b", "start -> c"),
    )
    result = await run(executor, wf)

    a, b, c = (result.nodes[n] for n in "abc")
    first, second = sorted((a, b), key=started_at)
    assert first.finished_at is not None
    assert started_at(second) >= first.finished_at
    assert started_at(c) < first.finished_at  # not held back by the pool
