"""Limits shared by queue mode's processes, on PostgreSQL: places up to a limit whatever
the number of processes asking at once, given back, renewed while held, gone a lease
after their holder stopped renewing them; timed places and hold-offs go by themselves.
Pools and a credential's AI limits over them hold across two "processes" (two databases'
engines, two holders)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tav.ai.config import AIConfig, Limit
from tav.ai.limits import Limits
from tav.engine.pools import SharedPools
from tav.storage.db import Database
from tav.storage.limits import LimitHolds
from tests.unit.storage.databases import migrated


@pytest.fixture
async def databases(postgres_url: str) -> AsyncIterator[list[Database]]:
    """Two engines on the test session's PostgreSQL database: two processes' worth."""
    async with migrated(postgres_url, empty="limit_holds") as first:
        second = Database(postgres_url)
        try:
            yield [first, second]
        finally:
            await second.close()


@pytest.fixture
def key() -> str:
    return f"pool:{secrets.token_hex(4)}"


@pytest.fixture
async def holds(databases: list[Database]) -> AsyncIterator[list[LimitHolds]]:
    made = [LimitHolds(db, holder=f"host:{i}", lease_s=3) for i, db in enumerate(databases)]
    yield made
    for each in made:
        await each.aclose()


async def test_places_up_to_the_limit_however_many_ask_at_once(holds: list[LimitHolds], key: str):
    asked = [holds[i % 2].take(key, 3) for i in range(20)]
    tokens = [token for token in await asyncio.gather(*asked) if token is not None]
    assert len(tokens) == 3
    assert await holds[0].take(key, 3) is None
    await holds[1].give_back(tokens[0])
    assert await holds[0].take(key, 3) is not None
    assert await holds[1].take(key, 3) is None
    assert await holds[1].take(key, 4) is not None  # a raised limit applies at once


async def test_a_held_place_is_renewed_while_held_and_gone_a_lease_after_its_holder_died(
    databases: list[Database], key: str
):
    live = LimitHolds(databases[0], holder="live:1", lease_s=0.6)
    dead = LimitHolds(databases[1], holder="dead:2", lease_s=0.6)
    other = LimitHolds(databases[1], holder="other:3", lease_s=0.6)
    try:
        assert await live.take(key, 2) is not None
        assert await dead.take(key, 2) is not None
        await dead.aclose()  # SIGKILLed: nothing renews its place any more
        began = time.monotonic()
        assert await other.take(key, 2) is None
        token = await _until(lambda: other.take(key, 2))
        assert 0.3 < time.monotonic() - began < 1.5
        await asyncio.sleep(1.5)  # well past the lease: the live one's place holds
        assert await other.take(key, 2) is None
        await other.give_back(token)
    finally:
        for each in (live, dead, other):
            await each.aclose()


async def test_timed_places_and_hold_offs_go_by_themselves(holds: list[LimitHolds], key: str):
    first, second = holds
    assert await first.take(key, 2, for_s=0.5) is not None
    assert await second.take(key, 2, for_s=0.5) is not None
    assert await first.take(key, 2, for_s=0.5) is None
    assert 0.2 < await second.next_free_s(key) <= 0.5
    token = await _until(lambda: first.take(key, 2, for_s=0.5))
    assert token not in first.held  # nothing to renew: it goes by itself
    assert await second.held_off("hold") == 0
    await first.hold_off("hold", 2)
    await first.hold_off("hold", 0.5)
    assert 1.5 < await second.held_off("hold") <= 2


async def test_a_shared_pool_holds_its_limit_across_processes(holds: list[LimitHolds]):
    pool = f"ext{secrets.token_hex(3)}"
    processes = [SharedPools({pool: 2, "cpu": 1}, shared=shared) for shared in holds]
    running, peak = 0, 0

    async def node(pools: SharedPools) -> None:
        nonlocal running, peak
        async with pools.slot(pool):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.2)
            running -= 1

    await asyncio.gather(*(node(processes[i % 2]) for i in range(6)))
    assert peak == 2
    assert [p.in_use(pool) for p in processes] == [0, 0]
    assert holds[0].held == holds[1].held == set()
    # cpu counts the cores of each machine: per process, one each here
    async with processes[0].slot("cpu"), processes[1].slot("cpu"):
        assert [p.in_use("cpu") for p in processes] == [1, 1]


async def test_a_credential_s_limits_hold_across_processes(holds: list[LimitHolds]):
    credential = f"cred-{secrets.token_hex(3)}"
    config = AIConfig(limit=Limit(max_concurrent=1, requests_per_minute=3), rate_window_s=1.0)
    processes = [Limits(config, shared=shared) for shared in holds]
    running, peak, started = 0, 0, []
    began = time.monotonic()

    async def call(limits: Limits) -> None:
        nonlocal running, peak
        async with limits.slot(credential):
            started.append(time.monotonic() - began)
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.05)
            running -= 1

    await asyncio.gather(*(call(processes[i % 2]) for i in range(4)))
    assert peak == 1
    assert max(started[:3]) < 0.8  # three calls in the first window,
    assert started[3] >= 0.9  # the fourth once the first left it
    await processes[0].hold_off(credential, 5)
    assert 4 < await processes[1].held_off(credential) <= 5


async def _until(step: Callable[[], Awaitable[Any]], within_s: float = 5) -> Any:
    for _ in range(int(within_s / 0.05)):
        found = await step()
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("not within time")


async def test_a_pool_whose_places_cannot_be_taken_fails_the_node_saying_so(postgres_url: str):
    """The shared places live in PostgreSQL: when taking one fails (here, a database that is
    not there), the node's attempt fails, is tried again and fails naming the pool — the
    engine used to stop on a node moving from pending to failed."""
    from tav.core.states import ExecutionStatus, NodeStatus
    from tav.engine.executor import Executor
    from tav.nodes.builtin import BUILTIN_NODE_TYPES
    from tav.nodes.registry import NodeRegistry
    from tests.helpers import node, workflow

    missing = Database(postgres_url.rsplit("/", 1)[0] + f"/tav_missing_{secrets.token_hex(4)}")
    holds = LimitHolds(missing, holder="host:0", lease_s=3)
    try:
        executor = Executor(NodeRegistry(BUILTIN_NODE_TYPES), pools=SharedPools(shared=holds))
        flow = workflow(
            node("start", "trigger.manual"),
            node("pause", "core.noop", pool="http", retry={"max_attempts": 2, "backoff_s": 0}),
            links=("start -> pause",),
        )
        result = await asyncio.wait_for(executor.execute(executor.compile(flow), {}), 30)
    finally:
        await holds.aclose()
        await missing.close()
    assert result.status is ExecutionStatus.FAILED, result
    failed = result.nodes["pause"]
    assert failed.status is NodeStatus.FAILED
    assert failed.attempts == 2
    assert failed.error is not None
    assert failed.error.type == "pool_unavailable"
    assert failed.error.message.startswith("could not take a place in pool 'http': "), failed.error
