"""Code node benchmark: what a trivial ``code.python`` node costs per run, under the sandbox.

    make bench-code       # or: .venv/bin/python bench/code.py [--runs N] [--quick]

Prints figures; it is not a test. The host is built as ``tav run --no-store`` builds it
(``tav.app.root.build``, executions in memory), with the default settings but the data
dir: bubblewrap, ``TAV_CODE_WARM`` interpreters kept started, the ``code`` pool's limit
(the machine's CPUs). Each run is a workflow ``trigger.manual`` → ``code.python`` whose
``main`` returns its input. A run's *overhead* is its wall time less the median wall time
of the same workflow with ``core.noop`` in place of the code node: what the code node
adds, its sandbox included.

- **now and then**: one run every 50 ms, as most workflows run code: an interpreter is
  always ready, so a run costs the job's round trip;
- **back to back**: each run starts when the one before ends, so every run also waits
  for the interpreters started for the runs before it (about 10 ms of CPU each);
- **1,000 runs, 8 at a time**: throughput with eight executions in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from latency import line, timed  # bench/latency.py
from tav.app.root import build
from tav.core.workflow import Workflow
from tav.settings import Settings

CODE = "def main(input):\n    return input\n"


def workflow(kind: str) -> Workflow:
    step: dict[str, Any] = {"id": "step", "type": kind}
    if kind == "code.python":
        step["params"] = {"code": CODE}
    nodes = [{"id": "start", "type": "trigger.manual"}, step]
    edges = [{"from": "start", "to": "step"}]
    return Workflow.model_validate({"name": kind, "nodes": nodes, "edges": edges})


async def bench(runs: int, throughput_runs: int, concurrency: int, data_dir: Path) -> None:
    parts = build(Settings(data_dir=data_dir), record=False)
    executor = parts.executor
    code, noop = executor.compile(workflow("code.python")), executor.compile(workflow("core.noop"))

    async def run(plan: Any, value: int = 1) -> None:
        result = await executor.execute(plan, {"n": value})
        assert result.succeeded, result.error

    try:
        first = await timed(lambda: run(code))
        print(
            f"first run (works out what the sandbox sees, starts the first interpreters): "
            f"{first:.0f} ms"
        )
        await asyncio.sleep(1)
        baseline = statistics.median([await timed(lambda: run(noop)) for _ in range(runs)])
        print(f"baseline: trigger.manual -> core.noop, {baseline:.2f} ms a run (median)")
        print("overhead of a trivial code.python node per run, over the baseline:")
        paced = []
        for _ in range(runs):
            paced.append(await timed(lambda: run(code)) - baseline)
            await asyncio.sleep(0.05)
        print(line("now and then (every 50 ms)", paced))
        await asyncio.sleep(1)
        chained = [await timed(lambda: run(code)) - baseline for _ in range(runs)]
        print(line("back to back", chained))
        await asyncio.sleep(1)
        await throughput(run, code, throughput_runs, concurrency)
    finally:
        await parts.aclose()


async def throughput(
    run: Callable[[Any, int], Awaitable[None]], plan: Any, total: int, concurrency: int
) -> None:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(index: int) -> None:
        async with gate:
            latencies.append(await timed(lambda: run(plan, index)))

    cpu = os.times()
    clock = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(total)))
    wall = time.perf_counter() - clock
    used = os.times()
    server = (used.user + used.system) - (cpu.user + cpu.system)
    print(
        f"{total:,} code.python runs, {concurrency} at a time: {wall:.2f} s, "
        f"{total / wall:.0f} runs/s"
    )
    print(line("latency of a run", latencies))
    print(f"  CPU of the server process per run: {server / total * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="runs per latency figure")
    parser.add_argument("--throughput", type=int, default=1000, help="runs of the last figure")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="100 runs per latency figure")
    args = parser.parse_args()
    runs = 100 if args.quick else args.runs
    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="tav-bench-code-") as data_dir:
        asyncio.run(bench(runs, args.throughput, args.concurrency, Path(data_dir)))
    print(f"load average after: {os.getloadavg()[0]:.2f} (others' work on this machine shows here)")


if __name__ == "__main__":
    main()
