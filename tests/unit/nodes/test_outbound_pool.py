"""The connection pool under the outbound transport (``tav.nodes.outbound.pool``): httpcore's
pool with linear bookkeeping, against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import types

import httpcore
import pytest

from tav.nodes.outbound import OutboundPolicy, OutboundRefused, client
from tav.nodes.outbound.pool import LinearPool, pool_class
from tests.fakes.slow_http import SlowHttp, serving


@pytest.fixture
async def upstream():
    async with serving(SlowHttp(delay_s=0.05)) as app:
        yield app


def pool(**limits: object) -> httpcore.AsyncConnectionPool:
    made = pool_class(httpcore)(**limits)
    assert isinstance(made, LinearPool)
    return made  # type: ignore[no-any-return]


async def burst(pool: httpcore.AsyncConnectionPool, url: str, n: int) -> list[int]:
    responses = await asyncio.gather(*(pool.request("GET", f"{url}/item/{i}") for i in range(n)))
    return [response.status for response in responses]


async def test_a_burst_opens_one_connection_per_request_and_the_next_reuses_them(upstream):
    async with pool(max_connections=100, max_keepalive_connections=100) as connections:
        assert await burst(connections, upstream.url, 30) == [200] * 30
        assert upstream.most_held == 30
        first = set(upstream.clients)
        assert len(first) == 30
        assert len(connections.connections) == 30

        assert await burst(connections, upstream.url, 30) == [200] * 30

    assert upstream.clients == first


async def test_max_connections_holds_and_queued_requests_wait_their_turn(upstream):
    async with pool(max_connections=5, max_keepalive_connections=5) as connections:
        assert await burst(connections, upstream.url, 20) == [200] * 20

    assert upstream.most_held == 5
    assert len(upstream.clients) == 5


async def test_idle_connections_beyond_the_keepalive_limit_are_closed(upstream):
    async with pool(max_connections=10, max_keepalive_connections=2) as connections:
        assert await burst(connections, upstream.url, 6) == [200] * 6

        assert len(connections.connections) == 2
        assert all(c.is_idle() for c in connections.connections)


async def test_an_expired_connection_is_not_reused(upstream):
    async with pool(max_connections=10, keepalive_expiry=0.05) as connections:
        await burst(connections, upstream.url, 1)
        await asyncio.sleep(0.1)
        await burst(connections, upstream.url, 1)

    assert len(upstream.clients) == 2


async def test_a_closed_connection_is_not_reused(upstream):
    async with pool(max_connections=10) as connections:
        await burst(connections, upstream.url, 1)
        [connection] = connections.connections
        await connection.aclose()
        await burst(connections, upstream.url, 1)

    assert len(upstream.clients) == 2


async def test_a_burst_costs_a_few_passes_over_the_pool_per_request(upstream, monkeypatch):
    """httpcore's own pool asks every connection whether it expired at every pass, and
    gives one idle connection to several requests at once, which then ask again."""
    async with pool(max_connections=100, max_keepalive_connections=100) as connections:
        await burst(connections, upstream.url, 50)
        passes, checks = counting(connections, monkeypatch)

        assert await burst(connections, upstream.url, 50) == [200] * 50

    assert len(upstream.clients) == 50
    assert passes[0] <= 2 * 50
    assert checks[0] <= 4 * 50  # httpcore's: some 5,000


def counting(pool: httpcore.AsyncConnectionPool, monkeypatch: pytest.MonkeyPatch):
    passes, checks = [0], [0]
    assign = pool._assign_requests_to_connections

    def counted_assign() -> list[object]:
        passes[0] += 1
        return assign()

    monkeypatch.setattr(pool, "_assign_requests_to_connections", counted_assign)
    for connection in pool.connections:
        has_expired = connection.has_expired

        def counted(has_expired=has_expired) -> bool:
            checks[0] += 1
            return has_expired()

        monkeypatch.setattr(connection, "has_expired", counted)
    return passes, checks


async def test_the_outbound_client_keeps_a_burst_of_fifty_connections_open(upstream):
    async with client(OutboundPolicy()) as http:
        for _ in range(2):
            responses = await asyncio.gather(
                *(http.get(f"{upstream.url}/item/{i}") for i in range(50))
            )
            assert [r.status_code for r in responses] == [200] * 50

    assert upstream.most_held == 50
    assert len(upstream.clients) == 50


def test_a_pool_without_the_internals_it_relies_on_is_used_as_it_is():
    class Pool:
        def __init__(self) -> None:
            self._connections: list[object] = []

    module = types.ModuleType("an_httpcore_of_the_future")
    module.AsyncConnectionPool = Pool  # type: ignore[attr-defined]

    assert pool_class(module) is Pool


async def test_a_refused_address_still_fails_through_the_pool():
    async with client(OutboundPolicy()) as http:
        with pytest.raises(OutboundRefused) as caught:
            await http.get("http://169.254.169.254/")

    assert "link-local/metadata" in str(caught.value)
