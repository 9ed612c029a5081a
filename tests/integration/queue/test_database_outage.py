"""Queue mode when PostgreSQL goes away and comes back: real ``tav serve`` and ``tav worker``
processes reach their database through a link the test cuts (``outage.CuttableLink``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.queue.cluster import Cluster, Redis
from tests.integration.queue.outage import CuttableLink
from tests.integration.queue.test_queue_mode import chain, run
from tests.integration.test_durability import Recorder, finished, until

OUTAGE_S = 5.0  # longer than the lease (3 s): every lease held when it began expires


@pytest.fixture
def link(database_url: str) -> Iterator[CuttableLink]:
    made = CuttableLink(database_url)
    made.start()
    yield made
    made.close()


async def test_a_database_outage_fails_requests_at_once_and_loses_nothing_acknowledged(
    tmp_path: Path, link: CuttableLink, redis: Redis, recorder: Recorder
):
    cluster = Cluster(tmp_path, link.url, redis.url)
    try:
        workflow_id = await cluster.store_workflow(chain(recorder.url, pause_s=3))
        worker = await cluster.worker(concurrency=10)
        api, client = await cluster.serve()
        async with client:
            acknowledged = []
            for _ in range(4):
                response = await run(client, workflow_id)
                assert response.status_code == 202, response.text
                acknowledged.append(response.json()["execution_id"])
            async with asyncio.timeout(20):  # each one is in its delay, r1 done and stored
                while len(recorder.calls("/r1")) < len(acknowledged):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)

            link.cut()
            began = time.monotonic()
            refused = await run(client, workflow_id)
            assert time.monotonic() - began < 5, "a request waited on the database"
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "database_unavailable", refused.text
            assert refused.headers["Retry-After"] == "5"
            listed = await client.get("/api/v1/executions")
            assert listed.status_code == 503, listed.text
            await asyncio.sleep(OUTAGE_S - (time.monotonic() - began))
            assert api.alive(), cluster.logs()
            assert worker.alive(), cluster.logs()
            link.mend()

            for execution_id in acknowledged:  # resumed once the leases expired
                body = await until(client, execution_id, finished, within_s=40)
                assert body["status"] == "succeeded", (body, cluster.logs())
            after = await run(client, workflow_id)  # and the next run goes as usual
            assert after.status_code == 202, after.text
            body = await until(client, after.json()["execution_id"], finished, within_s=20)
            assert body["status"] == "succeeded", body
    finally:
        cluster.close()
    # No node whose result was stored ran again, and the stopped runs ran the rest once.
    everything = [*acknowledged, body["execution_id"]]
    assert sorted(recorder.calls("/r1")) == sorted(f"{e}:r1" for e in everything)
    assert sorted(recorder.calls("/r2")) == sorted(f"{e}:r2" for e in everything)
