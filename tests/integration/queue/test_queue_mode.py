"""Queue mode with real processes: ``tav serve`` enqueues, ``tav worker`` runs, over
PostgreSQL and Redis (a server of the test's own) or RabbitMQ.

Side effects are counted by a local HTTP server (``Recorder``): a node that ran twice
would call it twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.api.triggers import webhook_flow
from tests.helpers import document, node
from tests.integration.queue.cluster import RABBITMQ_URL, Cluster, Redis, free_port
from tests.integration.test_durability import (
    Recorder,
    check_numbered,
    count,
    finished,
    post,
    settled,
    until,
)


def chain(url: str, *, pause_s: float = 1.5) -> dict[str, Any]:
    """start -> r1 (POST) -> d (delay) -> r2 (POST): the delay is where a worker dies."""
    return document(
        node("start", "trigger.manual"),
        post("r1", f"{url}/r1"),
        node("d", "core.delay", params={"seconds": pause_s}),
        post("r2", f"{url}/r2"),
        links=("start -> r1", "r1 -> d", "d -> r2"),
    )


async def run(client: httpx.AsyncClient, workflow_id: str, **params: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/workflows/{workflow_id}/run", params=params, json={"input": {}}
    )


async def test_a_run_goes_through_a_worker_on_redis(cluster: Cluster, recorder: Recorder):
    workflow_id = await cluster.store_workflow(chain(recorder.url, pause_s=0.05))
    await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        response = await run(client, workflow_id, wait="true")
        queue = (await client.get("/api/v1/queue")).json()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded", body
    execution_id = body["execution_id"]
    assert body["worker"] == await cluster.column(execution_id, "worker")
    assert queue["mode"] == "queue"
    assert queue["broker_up"] is True
    assert (queue["queued"], queue["running"], queue["unpublished"]) == (0, 0, 0)
    assert [(w["concurrency"], w["running"]) for w in queue["workers"]] == [(8, 0)]
    status = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tav", "queue", "status", "--json"],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["workers"] == queue["workers"]
    assert recorder.calls("/r1") == [f"{execution_id}:r1"]
    assert recorder.calls("/r2") == [f"{execution_id}:r2"]
    worker = await cluster.column(execution_id, "worker")
    assert ":" in str(worker)  # host:pid of the worker that ran it
    _, events = await cluster.stored(execution_id)
    check_numbered(events)


async def test_a_run_goes_through_a_worker_on_rabbitmq(
    tmp_path: Path, database_url: str, recorder: Recorder
):
    made = Cluster(tmp_path, database_url, RABBITMQ_URL)
    try:
        workflow_id = await made.store_workflow(chain(recorder.url, pause_s=0.05))
        await made.worker()
        _, client = await made.serve()
        async with client:
            response = await run(client, workflow_id, wait="true")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "succeeded", response.text
    finally:
        made.close()
    assert made.our_tracebacks() == [], made.logs()


async def test_a_worker_killed_mid_execution_is_taken_over_without_running_a_settled_node_again(
    cluster: Cluster, recorder: Recorder
):
    workflow_id = await cluster.store_workflow(chain(recorder.url))
    first = await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        response = await run(client, workflow_id)
        assert response.status_code == 202, response.text
        execution_id = response.json()["execution_id"]
        await until(client, execution_id, settled("r1"))
        first.signal(signal.SIGKILL)
        await first.wait(10)
        await cluster.worker()
        body = await until(client, execution_id, finished, within_s=30)
    assert body["status"] == "succeeded", body
    assert recorder.calls("/r1") == [f"{execution_id}:r1"]  # settled: not run again
    assert recorder.calls("/r2") == [f"{execution_id}:r2"]
    _, events = await cluster.stored(execution_id)
    check_numbered(events)  # the second worker's events go on from the first's
    assert count(events, "node.completed", "r1") == 1


async def test_a_frozen_worker_writes_nothing_once_another_took_its_execution_over(
    cluster: Cluster, recorder: Recorder
):
    workflow_id = await cluster.store_workflow(chain(recorder.url, pause_s=6))
    first = await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        response = await run(client, workflow_id)
        execution_id = response.json()["execution_id"]
        await until(client, execution_id, settled("r1"))
        first.signal(signal.SIGSTOP)  # frozen mid-delay, holding the lease
        first_worker = await cluster.column(execution_id, "worker")
        await cluster.worker()
        async with asyncio.timeout(20):  # the lease expires, the sweeper republishes
            while await cluster.column(execution_id, "worker") == first_worker:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        first.signal(signal.SIGCONT)
        body = await until(client, execution_id, finished, within_s=30)
        await asyncio.sleep(1)  # time for the first worker to write, were it to
    assert body["status"] == "succeeded", body
    assert recorder.calls("/r1") == [f"{execution_id}:r1"]
    assert recorder.calls("/r2") == [f"{execution_id}:r2"]  # the frozen one never got there
    record, events = await cluster.stored(execution_id)
    assert record.status.value == "succeeded"
    check_numbered(events)
    assert count(events, "node.started", "d") == 2  # once per worker; completed once
    assert count(events, "node.completed", "d") == 1
    assert "taken over by another worker" in first.log.read_text() or "lost the lease" in (
        first.log.read_text()
    )


def test_a_single_process_server_imports_neither_celery_nor_pycrdt_to_start(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
    env.update(TAV_DATA_DIR=str(tmp_path / "data"), TAV_SHUTDOWN_TIMEOUT_S="1")
    port = free_port()
    log = tmp_path / "imports.log"
    with log.open("w") as imports:
        server = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "tav", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=imports,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/auth/status").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    listed = log.read_text()
    assert " tav.app.root\n" in listed  # the server's imports were listed
    assert "celery" not in listed
    assert "pycrdt" not in listed  # live co-editing loads it with the first room
    assert "collab_relay" not in listed  # rooms across processes: queue mode only
    assert "kombu" not in listed


def test_queue_mode_on_sqlite_refuses_to_start_saying_why(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
    env.update(TAV_DATA_DIR=str(tmp_path / "data"), TAV_QUEUE_URL="redis://127.0.0.1:6379/0")
    for command in ("serve", "worker"):
        done = subprocess.run(
            [sys.executable, "-m", "tav", command], env=env, capture_output=True, text=True
        )
        assert done.returncode == 2, done
        assert "queue mode (TAV_QUEUE_URL) needs PostgreSQL" in done.stderr, done.stderr
        assert "SQLite" in done.stderr


async def test_an_execution_committed_by_an_api_process_that_died_before_publishing_it_runs(
    cluster: Cluster, recorder: Recorder
):
    workflow_id = await cluster.store_workflow(chain(recorder.url, pause_s=0.05))
    # An API process whose broker does not answer: it commits, cannot publish, and dies.
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    api, client = await cluster.serve(TAV_QUEUE_URL=dead_broker)
    async with client:
        response = await run(client, workflow_id)
    assert response.status_code == 202, response.text
    execution_id = response.json()["execution_id"]
    api.signal(signal.SIGKILL)
    await api.wait(10)
    assert await cluster.column(execution_id, "status") == "queued"
    assert await cluster.column(execution_id, "published_at") is None

    await cluster.worker()
    _, client = await cluster.serve()  # its sweeper publishes what the other left
    async with client:
        body = await until(client, execution_id, finished, within_s=20)
    assert body["status"] == "succeeded", body
    assert recorder.calls("/r2") == [f"{execution_id}:r2"]


async def test_every_acknowledged_webhook_request_runs_once_across_a_broker_restart(
    cluster: Cluster, redis: Redis, recorder: Recorder
):
    hook = node("hook", "trigger.webhook", params={"path": "orders"})
    doc = document(hook, post("r", f"{recorder.url}/r"), links=("hook -> r",), name="orders")
    workflow_id = await cluster.store_workflow(doc)
    worker = await cluster.worker(concurrency=20)
    _, client = await cluster.serve(TAV_QUEUE_REPUBLISH_S="3", TAV_QUEUE_PUBLISH_TIMEOUT_S="0.3")
    acknowledged: list[str] = []
    refused: list[int] = []

    async def send(count: int) -> None:
        for _ in range(count):
            try:
                response = await client.post("/webhook/orders", json={"n": 1})
            except httpx.TransportError:
                continue
            if response.is_success:
                acknowledged.append(response.json()["execution_id"])
            else:
                refused.append(response.status_code)
            await asyncio.sleep(0.02)

    async with client:
        assert (await client.post(f"/api/v1/workflows/{workflow_id}/activate")).is_success
        await send(20)
        redis.kill()  # the broker goes, with whatever it held
        started = time.monotonic()
        await send(10)
        assert time.monotonic() - started < 10 * (0.3 + 0.5)  # never held past the timeout
        down = (await client.get("/api/v1/queue")).json()
        assert down["broker_up"] is False
        assert down["unpublished"] >= 1  # committed, waiting for the broker
        redis.start()
        await send(20)
        # Celery's Redis transport may end a worker whose broker went away while it held
        # unacknowledged tasks (kombu: "Unrecoverable error"); its supervisor starts it
        # again (docs/deployment/scaling.md), as here.
        if not worker.alive() or "Unrecoverable error" in worker.log.read_text():
            worker.kill()
            await cluster.worker(concurrency=20)
        async with asyncio.timeout(40):
            while len(set(recorder.calls("/r"))) < len(acknowledged):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        for execution_id in acknowledged[-3:]:
            body = await until(client, execution_id, finished, within_s=20)
            assert body["status"] == "succeeded", body
    assert refused == []
    assert len(acknowledged) == 50
    calls = recorder.calls("/r")
    assert sorted(calls) == sorted(f"{execution_id}:r" for execution_id in acknowledged)


async def test_one_worker_runs_fifty_waiting_executions_at_once(
    cluster: Cluster, recorder: Recorder
):
    doc = document(node("start", "trigger.manual"), node("d", "core.delay", params={"seconds": 1}))
    workflow_id = await cluster.store_workflow({**doc, "edges": [{"from": "start", "to": "d"}]})
    await cluster.worker(concurrency=50)
    _, client = await cluster.serve()
    async with client:
        started = time.monotonic()
        responses = await asyncio.gather(*(run(client, workflow_id) for _ in range(50)))
        ids = [response.json()["execution_id"] for response in responses]
        bodies = [await until(client, execution_id, finished) for execution_id in ids]
        took = time.monotonic() - started
    assert {body["status"] for body in bodies} == {"succeeded"}
    assert took < 15, took  # one after another: 50 s


async def test_a_worker_stopped_with_sigterm_hands_back_what_it_could_not_finish(
    cluster: Cluster, recorder: Recorder
):
    workflow_id = await cluster.store_workflow(chain(recorder.url, pause_s=3))
    first = await cluster.worker(concurrency=8)
    _, client = await cluster.serve()
    async with client:
        ids = [(await run(client, workflow_id)).json()["execution_id"] for _ in range(20)]
        await until(client, ids[0], settled("r1"))  # some run, the rest wait in the broker
        first.signal(signal.SIGTERM)
        assert await first.wait(15) == 0  # running ones got TAV_SHUTDOWN_TIMEOUT_S (2 s)
        assert await cluster.column(ids[0], "lease_token") is None  # handed back
        await cluster.worker(concurrency=20)
        bodies = [await until(client, i, finished, within_s=30) for i in ids]
    assert [body["status"] for body in bodies] == ["succeeded"] * 20, bodies
    for execution_id in ids:  # settled nodes never ran again
        assert recorder.calls("/r1").count(f"{execution_id}:r1") == 1
        assert recorder.calls("/r2").count(f"{execution_id}:r2") == 1
        _, events = await cluster.stored(execution_id)
        check_numbered(events)
        assert not any(e["type"] == "execution.cancelled" for e in events)


async def test_another_api_process_streams_a_worker_s_execution_live(
    cluster: Cluster, recorder: Recorder
):
    doc = document(
        node("start", "trigger.manual"),
        node("d1", "core.delay", params={"seconds": 1}),
        node("d2", "core.delay", params={"seconds": 1}),
        links=("start -> d1", "d1 -> d2"),
    )
    workflow_id = await cluster.store_workflow(doc)
    await cluster.worker()
    _, first = await cluster.serve()
    _, second = await cluster.serve()
    received: list[tuple[dict[str, Any], datetime]] = []
    async with first, second:
        execution_id = (await run(first, workflow_id)).json()["execution_id"]
        async with second.stream("GET", f"/api/v1/executions/{execution_id}/stream") as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    received.append((json.loads(line[5:]), datetime.now(UTC)))
    types = [event["type"] for event, _ in received]
    assert types[-1] == "execution.completed", types
    assert [event["seq"] for event, _ in received] == list(range(1, len(received) + 1))
    # Live: each event of the running execution arrived right after it happened (the
    # store alone would bring them up to two seconds late, in batches).
    late = [
        (event["type"], (at - datetime.fromisoformat(event["at"])).total_seconds())
        for event, at in received
        if event["type"] in ("node.completed", "execution.completed")
    ]
    assert all(lag < 0.5 for _, lag in late), late


async def test_the_queue_shows_what_waits_while_no_worker_runs(cluster: Cluster):
    workflow_id = await cluster.store_workflow(document(node("start", "trigger.manual")))
    _, client = await cluster.serve()
    async with client:
        for _ in range(3):
            assert (await run(client, workflow_id)).status_code == 202
        await asyncio.sleep(0.3)
        queue = (await client.get("/api/v1/queue")).json()
    assert (queue["queued"], queue["running"], queue["unpublished"]) == (3, 0, 0)
    assert queue["oldest_queued_age_s"] >= 0.3
    assert queue["workers"] == []


async def test_a_webhook_answering_when_done_gets_the_worker_s_output(cluster: Cluster):
    doc = webhook_flow(respond="when_done")
    workflow_id = await cluster.store_workflow(doc)
    await cluster.worker()
    _, client = await cluster.serve()
    async with client:
        assert (await client.post(f"/api/v1/workflows/{workflow_id}/activate")).is_success
        response = await client.post("/webhook/orders", json={"item": "tea"})
    assert response.status_code == 200, response.text
    assert response.json() == {"got": {"item": "tea"}}
    execution_id = response.headers["x-tav-execution-id"]
    assert await cluster.column(execution_id, "status") == "succeeded"  # stored first
    assert await cluster.column(execution_id, "worker") is not None
