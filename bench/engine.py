"""Engine benchmark: per-node overhead, fan-out wall time, a random DAG.

    make bench            # or: .venv/bin/python bench/engine.py [--quick]

Prints figures; it is not a test. Each figure is the best of a few repetitions, measured
in-process with no store and no subscribers (the engine alone).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

from tav.core.workflow import Workflow
from tav.engine.executor import Executor
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry


def chain(n: int) -> Workflow:
    nodes = [{"id": "start", "type": "trigger.manual"}]
    nodes += [{"id": f"n{i}", "type": "core.noop"} for i in range(n)]
    edges = [{"from": "start", "to": "n0"}]
    edges += [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(n - 1)]
    return Workflow.model_validate({"name": f"chain {n}", "nodes": nodes, "edges": edges})


def fan_out(n: int, seconds: float) -> Workflow:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "trigger.manual"}]
    nodes += [
        {"id": f"d{i}", "type": "core.delay", "params": {"seconds": seconds}} for i in range(n)
    ]
    nodes.append({"id": "join", "type": "core.merge"})
    edges = [{"from": "start", "to": f"d{i}"} for i in range(n)]
    edges += [{"from": f"d{i}", "to": "join"} for i in range(n)]
    return Workflow.model_validate({"name": f"fan-out {n}", "nodes": nodes, "edges": edges})


def random_dag(n: int, seed: int = 7) -> Workflow:
    rng = random.Random(seed)
    nodes = [{"id": "start", "type": "trigger.manual"}]
    edges = []
    for i in range(n - 1):
        node_id = f"n{i}"
        nodes.append({"id": node_id, "type": "core.merge"})
        earlier = [n["id"] for n in nodes[:-1]]
        for parent in rng.sample(earlier, k=min(len(earlier), rng.randint(1, 3))):
            edges.append({"from": parent, "to": node_id})
    return Workflow.model_validate({"name": f"random dag {n}", "nodes": nodes, "edges": edges})


async def timed(executor: Executor, workflow: Workflow, repeat: int) -> tuple[float, float]:
    """(best wall seconds of the execution, compile seconds)."""
    clock = time.perf_counter()
    plan = executor.compile(workflow)
    compile_s = time.perf_counter() - clock
    times = []
    for _ in range(repeat):
        clock = time.perf_counter()
        result = await executor.execute(plan, {})
        times.append(time.perf_counter() - clock)
        assert result.succeeded, result.error
    return min(times), compile_s


async def main(quick: bool) -> None:
    executor = Executor(NodeRegistry(BUILTIN_NODE_TYPES))
    repeat = 3 if quick else 5
    print("chain of core.noop (per-node overhead, execution only)")
    per_node = []
    for n in (100, 1_000, 10_000):
        best, compile_s = await timed(executor, chain(n), repeat)
        per_node.append(best / (n + 1) * 1e6)
        print(
            f"  N={n:>6,}: {best * 1000:8.1f} ms  {per_node[-1]:6.1f} µs/node"
            f"   (compile {compile_s * 1000:.0f} ms)"
        )
    print(f"  growth: µs/node at N=10,000 / N=100 = {per_node[-1] / per_node[0]:.2f}")

    best, _ = await timed(executor, fan_out(1_000, 0.1), repeat)
    print(f"fan-out: 1,000 parallel core.delay of 0.1 s: {best:.3f} s wall")

    best, compile_s = await timed(executor, random_dag(1_000), repeat)
    print(
        f"random DAG: 1,000 nodes, 1-3 parents each: {best * 1000:.1f} ms "
        f"({best / 1000 * 1e6:.1f} µs/node; compile {compile_s * 1000:.0f} ms)"
    )
    overhead = await bare_tasks(10_000)
    print(f"reference: a bare asyncio task per node costs {statistics.median(overhead):.1f} µs")


async def bare_tasks(n: int) -> list[float]:
    async def nothing(value: int) -> int:
        return value

    samples = []
    for _ in range(3):
        clock = time.perf_counter()
        for i in range(n):
            await asyncio.create_task(nothing(i))
        samples.append((time.perf_counter() - clock) / n * 1e6)
    return samples


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    asyncio.run(main(parser.parse_args().quick))
