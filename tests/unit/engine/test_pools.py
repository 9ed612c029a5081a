"""Changing pool limits while nodes hold and wait for slots."""

from __future__ import annotations

import asyncio

from tav.engine.pools import DEFAULT_LIMITS, Pools


async def _hold(pools: Pools, pool: str, release: asyncio.Event, started: list[int]) -> None:
    async with pools.slot(pool):
        started.append(1)
        await release.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_raised_limit_lets_waiting_nodes_start_at_once():
    pools = Pools({"api": 1})
    release, started = asyncio.Event(), []
    tasks = [asyncio.create_task(_hold(pools, "api", release, started)) for _ in range(3)]
    await _settle()
    assert len(started) == 1
    pools.set_limits({"api": 3}, default_limit=16)
    await _settle()
    assert len(started) == 3
    assert pools.in_use("api") == 3
    release.set()
    await asyncio.gather(*tasks)
    assert pools.in_use("api") == 0


async def test_a_lowered_limit_applies_to_slots_taken_afterwards():
    pools = Pools({"api": 2})
    release, started = asyncio.Event(), []
    holders = [asyncio.create_task(_hold(pools, "api", release, started)) for _ in range(2)]
    await _settle()
    pools.set_limits({"api": 1}, default_limit=16)
    later_release, later = asyncio.Event(), []
    newcomers = [asyncio.create_task(_hold(pools, "api", later_release, later)) for _ in range(2)]
    await _settle()
    assert (len(started), len(later)) == (2, 1)
    release.set()
    later_release.set()
    await asyncio.gather(*holders, *newcomers)
    assert len(later) == 2


def test_unnamed_pools_fall_back_to_defaults():
    pools = Pools({"llm": 2})
    pools.set_limits({"custom": 5}, default_limit=3)
    assert pools.limits == {**DEFAULT_LIMITS, "custom": 5}
    assert pools.default_limit == 3
