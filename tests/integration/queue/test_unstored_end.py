"""Queue mode when a worker cannot store how an execution ended (PostgreSQL refusing the
write, as when it is out of connections): the execution is handed back and ends once the
database takes the write again — it never stays ``running`` with nobody holding it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from tests.helpers import document, node
from tests.integration.queue.cluster import Cluster, Redis
from tests.integration.queue.test_queue_mode import run
from tests.integration.test_durability import finished, until

REFUSE_ENDS = """
CREATE FUNCTION refuse_ends() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ends are refused for now';
END $$;
CREATE TRIGGER refuse_ends BEFORE UPDATE ON executions FOR EACH ROW
    WHEN (OLD.status = 'running' AND NEW.status <> 'running') EXECUTE FUNCTION refuse_ends();
"""


async def _sql(cluster: Cluster, statements: str) -> None:
    connection = await asyncpg.connect(cluster.database_url.replace("+asyncpg", ""))
    try:
        await connection.execute(statements)
    finally:
        await connection.close()


async def test_an_execution_whose_end_could_not_be_stored_ends_once_it_can(
    tmp_path: Path, database_url: str, redis: Redis
):
    cluster = Cluster(tmp_path, database_url, redis.url)
    try:
        await _refused_then_stored(cluster)
    finally:
        cluster.close()
    # (the worker logs each refused write with its traceback: nothing else)
    unexpected = [
        t
        for t in cluster.our_tracebacks()
        if "ends are refused" not in t and "tav/storage/isolation.py" not in t
    ]
    assert unexpected == [], cluster.logs()


async def _refused_then_stored(cluster: Cluster) -> None:
    flow = document(
        node("start", "trigger.manual"),
        node("pause", "core.delay", params={"seconds": 0.2}),
        links=("start -> pause",),
    )
    workflow_id = await cluster.store_workflow(flow)
    await cluster.worker(concurrency=2)
    _, client = await cluster.serve()
    async with client:
        await _sql(cluster, REFUSE_ENDS)
        response = await run(client, workflow_id)
        assert response.status_code == 202, response.text
        execution_id = response.json()["execution_id"]
        async with asyncio.timeout(20):  # the worker tried to store the end, and could not
            while "could not store" not in cluster.logs():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        body = (await client.get(f"/api/v1/executions/{execution_id}")).json()
        assert body["status"] == "running", body

        await _sql(cluster, "DROP TRIGGER refuse_ends ON executions")
        body = await until(client, execution_id, finished, within_s=20)
    assert body["status"] == "succeeded", body
    assert body["nodes"]["pause"]["status"] == "succeeded", body
    assert await cluster.column(execution_id, "lease_token") is None
