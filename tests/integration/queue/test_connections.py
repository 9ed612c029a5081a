"""PostgreSQL connections in queue mode: a deployment never opens more than its
processes' sizes add up to (``tav.app.connections``), and a connection PostgreSQL refuses
is answered at once, saying so."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tav.app import connections
from tav.app.root import build
from tav.queue.runner import Runner
from tav.settings import Settings
from tests.conftest import PG_ADMIN_URL
from tests.helpers import document, node
from tests.integration.queue.cluster import Cluster, Redis
from tests.integration.test_durability import Recorder, post

WORKERS = 4
CONCURRENCY = 2
RUNS = 80


def fan_out(url: str) -> dict[str, object]:
    """Four HTTP calls at once (each takes a place in the shared ``http`` pool: a
    transaction before and after), then one more."""
    calls = [post(f"r{i}", f"{url}/r{i}") for i in range(4)]
    return document(
        node("start", "trigger.manual"),
        *calls,
        post("last", f"{url}/last"),
        links=(*(f"start -> r{i}" for i in range(4)), *(f"r{i} -> last" for i in range(4))),
    )


async def count_connections(database: str, most: list[int], stop: asyncio.Event) -> None:
    """Keep in ``most[0]`` the most connections to ``database`` seen at once."""
    admin = await asyncpg.connect(PG_ADMIN_URL)  # (to another database: not counted)
    try:
        while not stop.is_set():
            count = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database
            )
            most[0] = max(most[0], count)
            await asyncio.sleep(0.005)
    finally:
        await admin.close()


async def test_an_api_process_and_four_workers_stay_within_their_computed_connections(
    cluster: Cluster, recorder: Recorder
):
    workflow_id = await cluster.store_workflow(fan_out(recorder.url))
    database = cluster.database_url.rsplit("/", 1)[1]
    for _ in range(WORKERS):
        await cluster.worker(concurrency=CONCURRENCY)
    _, client = await cluster.serve()
    allowed = connections.deployment([10], [CONCURRENCY] * WORKERS)
    assert allowed == (10 + 2) + WORKERS * (3 + 1 + 1)  # as docs/deployment/scaling.md says
    most, stop = [0], asyncio.Event()
    counting = asyncio.ensure_future(count_connections(database, most, stop))
    try:
        async with client:
            burst = [
                client.post(f"/api/v1/workflows/{workflow_id}/run", json={"input": {}})
                for _ in range(RUNS)
            ]
            responses = await asyncio.gather(*burst)
            assert [r.status_code for r in responses] == [202] * RUNS, [
                r.text for r in responses if r.status_code != 202
            ]
            ids = [r.json()["execution_id"] for r in responses]
            async with asyncio.timeout(120):
                for execution_id in ids:
                    while True:
                        body = (await client.get(f"/api/v1/executions/{execution_id}")).json()
                        if body["status"] not in ("queued", "running"):
                            break
                        await asyncio.sleep(0.1)
                    assert body["status"] == "succeeded", body
    finally:
        stop.set()
        await counting
    assert 0 < most[0] <= allowed, f"{most[0]} connections at once, {allowed} computed"
    assert len(recorder.calls("/last")) == RUNS
    logs = cluster.logs()
    assert f"at most {connections.for_worker(CONCURRENCY).most} PostgreSQL connections" in logs
    assert f"at most {connections.for_server(10).most} PostgreSQL connections" in logs


@pytest.fixture
async def limited_database() -> AsyncIterator[tuple[str, str]]:
    """A database of a role of its own whose connections may be capped (``ALTER ROLE ...
    CONNECTION LIMIT``: the machine's max_connections is shared with others); yields its
    URL and the role."""
    role = f"tav_limited_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        await admin.execute(f'CREATE DATABASE "{role}" OWNER "{role}"')
    finally:
        await admin.close()
    host = PG_ADMIN_URL.split("@", 1)[1].rsplit("/", 1)[0]
    yield f"postgresql+asyncpg://{role}@{host}/{role}", role
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{role}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await admin.close()


async def test_a_connection_postgresql_refuses_is_answered_at_once_saying_so(
    tmp_path: Path, limited_database: tuple[str, str], redis: Redis
):
    url, role = limited_database
    cluster = Cluster(tmp_path, url, redis.url)
    try:
        _, client = await cluster.serve()
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:  # no new connection for the role: what the pool has open is all it gets
            await admin.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT 0')
        finally:
            await admin.close()
        async with client, asyncio.timeout(20):
            responses = await asyncio.gather(
                *(client.get("/api/v1/workflows") for _ in range(40)), return_exceptions=True
            )
        refused = [r for r in responses if isinstance(r, httpx.Response) and r.status_code == 503]
        assert refused, [getattr(r, "status_code", r) for r in responses]
        for response in responses:
            assert isinstance(response, httpx.Response), response
            assert response.status_code in (200, 503), response.text
        error = refused[0].json()["error"]
        assert error["code"] == "database_unavailable"
        assert "refused a connection" in error["message"]
        assert "too many connections" in error["message"]
        assert refused[0].headers["Retry-After"] == "5"
        assert "PostgreSQL refused a connection" in cluster.logs()
        assert cluster.our_tracebacks() == [], cluster.logs()
    finally:
        cluster.close()


async def test_a_worker_whose_claim_postgresql_refuses_puts_the_task_back(
    tmp_path: Path,
    limited_database: tuple[str, str],
    redis: Redis,
    caplog: pytest.LogCaptureFixture,
):
    url, role = limited_database
    settings = Settings(data_dir=tmp_path / "data", database_url=url, queue_url=redis.url)
    parts = build(settings, database_pool=2)
    runner = Runner(parts, name="test-worker")
    await runner.start()
    try:
        parts.executions_service.accepting = True  # (as an API process enqueues it)
        workflow = await parts.workflows.create(
            document(node("start", "trigger.manual"), node("a", "core.noop"), links=("start -> a",))
        )
        started = await parts.executions_service.start(workflow.id)
        execution_id = started.handle.execution_id
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:  # no connection for the role any more: what it has open ends, none opens
            await admin.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT 0')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
            )
            async with asyncio.timeout(10):
                assert await runner.run(execution_id) == "again"
            assert f"cannot claim execution {execution_id}: too many connections" in caplog.text
            await admin.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT -1')
        finally:
            await admin.close()
        assert await runner.run(execution_id) == "ran"  # (the task, back in the queue)
        record = await parts.executions_service.get(execution_id)
        assert record.status.value == "succeeded", record
    finally:
        await runner.stop(1)
