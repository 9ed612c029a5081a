"""Latency figures shared by benchmarks that time single runs (bench/code.py,
bench/mcp_tools.py): a run's milliseconds, percentiles, a printed line."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def line(label: str, values: list[float], width: int = 28) -> str:
    return (
        f"  {label:<{width}} p50 {percentile(values, 0.5):6.2f} ms   "
        f"p99 {percentile(values, 0.99):6.2f} ms   max {max(values):6.2f} ms   "
        f"({len(values)} runs)"
    )


async def timed(run: Callable[[], Awaitable[None]]) -> float:
    clock = time.perf_counter()
    await run()
    return (time.perf_counter() - clock) * 1000
