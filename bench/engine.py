"""Engine benchmark: per-node overhead, fan-out wall time, a random DAG.

    make bench            # or: .venv/bin/python bench/engine.py [--quick]

Prints figures; it is not a test. Figures are the best and the median of several runs,
measured in-process with the default in-memory event bus and no store (the engine alone,
Python's garbage collector on, as in production).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
from typing import Any

from tav.core.workflow import Workflow
from tav.engine.executor import Executor
from tav.engine.plan import ExecutionPlan
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


class GcClock:
    """Time spent in Python's garbage collector, via ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start


async def measure(
    executor: Executor, plan: ExecutionPlan, gc_clock: GcClock
) -> tuple[float, float]:
    """(wall seconds, of which garbage collection) of one execution."""
    gc_before = gc_clock.seconds
    clock = time.perf_counter()
    result = await executor.execute(plan, {})
    elapsed = time.perf_counter() - clock
    assert result.succeeded, result.error
    return elapsed, gc_clock.seconds - gc_before


async def main(repeat: int) -> None:
    executor = Executor(NodeRegistry(BUILTIN_NODE_TYPES))
    gc_clock = GcClock()
    sizes = (100, 1_000, 10_000)
    plans = {n: executor.compile(chain(n)) for n in sizes}
    # A collection now moves the plans' objects (130,000 for N=10,000) to the oldest
    # generation, as a server's long-lived plans are: otherwise, where the compile happened
    # to leave them decides how often the runs' collections walk them again.
    gc.collect()
    samples: dict[int, list[tuple[float, float]]] = {n: [] for n in sizes}
    for _ in range(repeat):  # interleaved, so that a noisy moment hits every size alike
        for n in sizes:
            samples[n].append(await measure(executor, plans[n], gc_clock))

    print(f"chain of core.noop — per-node overhead (best / median of {repeat} runs)")
    best_per_node = {}
    for n in sizes:
        per_node = sorted(wall / (n + 1) * 1e6 for wall, _ in samples[n])
        gc_share = min(gc_s / (n + 1) * 1e6 for _, gc_s in samples[n])
        best_per_node[n] = per_node[0]
        print(
            f"  N={n:>6,}: {per_node[0]:6.1f} / {statistics.median(per_node):6.1f} µs/node"
            f"   (garbage collection ≥ {gc_share:.1f} µs/node)"
        )
    growth = best_per_node[sizes[-1]] / best_per_node[sizes[0]]
    print(f"  growth of the best µs/node from N=100 to N=10,000: x{growth:.2f} (1.00 = linear)")

    fan = executor.compile(fan_out(1_000, 0.1))
    gc.collect()
    walls = sorted([(await measure(executor, fan, gc_clock))[0] for _ in range(repeat)])
    print(
        f"fan-out: 1,000 parallel core.delay of 0.1 s: {walls[0]:.3f} s best, "
        f"{statistics.median(walls):.3f} s median"
    )

    dag = executor.compile(random_dag(1_000))
    gc.collect()
    walls = sorted([(await measure(executor, dag, gc_clock))[0] for _ in range(repeat)])
    print(
        f"random DAG: 1,000 nodes, 1-3 parents each: {walls[0] * 1000:.1f} ms best "
        f"({walls[0] / 1000 * 1e6:.1f} µs/node), {statistics.median(walls) * 1000:.1f} ms median"
    )
    bare = await bare_tasks(10_000)
    print(f"reference: a bare asyncio task per node costs {min(bare):.1f} µs here")


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
    parser.add_argument("--quick", action="store_true", help="3 repetitions instead of 7")
    asyncio.run(main(3 if parser.parse_args().quick else 7))
