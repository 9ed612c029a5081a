"""Queue mode benchmark: ``tav serve`` and 1, 2 and 4 ``tav worker`` processes over
PostgreSQL and a Redis of its own, beside one ``tav serve`` running everything itself.

    .venv/bin/python bench/queue_mode.py [--executions 200]

The workflow is I/O-bound: 10 HTTP calls of 100 ms to a local server (an aiohttp app in
this process), 5 at a time (five chains of two). The bench posts the executions (32 at
a time, no waiting), then waits until every one has ended, and prints for each setup
executions per second (from the first post to the last end) and enqueue-to-start latency
(from an execution's commit, ``started_at``, to its first node starting), p50 and p99;
then the latency on an idle cluster (one execution at a time, ``?wait=true``).

Everything runs on this machine: the load generator, the upstream server, PostgreSQL,
Redis and the processes measured share its cores. It prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiohttp import web

PG_ADMIN = os.environ.get("TAV_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TAV = [sys.executable, "-m", "tav"]
WORKER_CONCURRENCY = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def upstream() -> tuple[web.AppRunner, str]:
    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(0.1)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/{tail:.*}", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def io_workflow(url: str) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "trigger.manual"}]
    edges = []
    for chain in range(5):
        for step in range(2):
            node_id = f"c{chain}s{step}"
            nodes.append({"id": node_id, "type": "core.http_request", "params": {"url": url}})
            edges.append({"from": f"c{chain}s{step - 1}" if step else "start", "to": node_id})
    return {"schema": 1, "name": "io", "nodes": nodes, "edges": edges}


class Deployment:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
        self.env.update(TAV_DATA_DIR=str(root / "data"), TAV_LOG_LEVEL="WARNING", **env)
        self.processes: list[subprocess.Popen[bytes]] = []
        key = subprocess.run(
            [*TAV, "api-keys", "create", "--name", "bench", "--init"],
            env=self.env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        self.headers = {"Authorization": f"Bearer {key}"}

    def spawn(self, *args: str) -> Path:
        log = self.root / f"{args[0]}-{len(self.processes)}.log"
        with log.open("w") as output:
            process = subprocess.Popen([*TAV, *args], env=self.env, stdout=output, stderr=output)
        self.processes.append(process)
        return log

    async def serve(self) -> httpx.AsyncClient:
        port = free_port()
        self.spawn("serve", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url) as probe:
            for _ in range(600):
                try:
                    if (await probe.get("/api/v1/auth/status")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        limits = httpx.Limits(max_connections=64)
        return httpx.AsyncClient(base_url=url, headers=self.headers, timeout=60, limits=limits)

    async def workers(self, client: httpx.AsyncClient, count: int) -> None:
        """Start ``count`` workers; return once ``GET /api/v1/queue`` lists them all."""
        for _ in range(count):
            self.spawn("worker", "--concurrency", str(WORKER_CONCURRENCY))
        for _ in range(600):
            if len((await client.get("/api/v1/queue")).json()["workers"]) == count:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the workers did not start")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def measure(client: httpx.AsyncClient, workflow_id: str, count: int) -> dict[str, float]:
    gate = asyncio.Semaphore(32)

    async def post() -> str:
        async with gate:
            response = await client.post(f"/api/v1/workflows/{workflow_id}/run", json={})
            response.raise_for_status()
            return str(response.json()["execution_id"])

    began = time.monotonic()
    ids = await asyncio.gather(*(post() for _ in range(count)))
    latencies = []
    for execution_id in ids:
        while True:
            body = (await client.get(f"/api/v1/executions/{execution_id}")).json()
            if body["status"] in ("succeeded", "failed", "cancelled"):
                break
            await asyncio.sleep(0.05)
        assert body["status"] == "succeeded", body
        latencies.append(_start_latency(body))
    took = time.monotonic() - began
    latencies.sort()
    return {
        "per_s": count / took,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def _start_latency(body: dict[str, Any]) -> float:
    """Seconds from the execution's commit to its first node starting."""
    from datetime import datetime

    started = datetime.fromisoformat(body["started_at"])
    first = min(datetime.fromisoformat(n["started_at"]) for n in body["nodes"].values())
    return (first - started).total_seconds()


async def idle_latency(client: httpx.AsyncClient, workflow_id: str) -> float:
    latencies = []
    for _ in range(20):
        response = await client.post(
            f"/api/v1/workflows/{workflow_id}/run", params={"wait": "true"}, json={}
        )
        latencies.append(_start_latency(response.json()))
    return statistics.median(latencies)


async def database() -> tuple[str, str]:
    name = f"tav_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return name, f"{base}/{name}"


async def drop(name: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.close()


async def setup_run(
    root: Path, env: dict[str, str], workers: int, url: str, count: int, idle: bool = False
) -> tuple[dict[str, float], float | None]:
    deployment = Deployment(root, env)
    try:
        async with await deployment.serve() as client:
            if workers:
                await deployment.workers(client, workers)
            created = await client.post("/api/v1/workflows", json=io_workflow(url))
            workflow_id = created.json()["id"]
            await measure(client, workflow_id, min(count, 20))  # warm up
            figures = await measure(client, workflow_id, count)
            return figures, await idle_latency(client, workflow_id) if idle else None
    finally:
        deployment.stop()


async def main(count: int) -> None:
    runner, url = await upstream()
    redis_port = free_port()
    redis = subprocess.Popen(  # noqa: ASYNC220 (started once, before measuring)
        [shutil.which("redis-server") or "redis-server", "--port", str(redis_port), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            name, db_url = await database()
            try:
                single = {"TAV_DATABASE_URL": db_url}
                figures, idle = await setup_run(Path(tmp) / "single", single, 0, url, count, True)
                rows.append(("single process (PostgreSQL)", figures, idle))
            finally:
                await drop(name)
            for workers in (1, 2, 4):
                name, db_url = await database()
                env = {
                    "TAV_DATABASE_URL": db_url,
                    "TAV_QUEUE_URL": f"redis://127.0.0.1:{redis_port}/0",
                }
                try:
                    root = Path(tmp) / f"queue{workers}"
                    figures, idle = await setup_run(root, env, workers, url, count, workers == 1)
                    rows.append((f"queue, {workers} worker(s)", figures, idle))
                finally:
                    await drop(name)
    finally:
        redis.terminate()
        await runner.cleanup()
    print(f"I/O-bound workflow (10 HTTP calls of 100 ms, 5 at a time), {count} executions")
    print(f"{'setup':32} {'exec/s':>8} {'start p50':>10} {'start p99':>10} {'idle p50':>9}")
    for label, figures, idle in rows:
        idle_text = f"{idle * 1000:7.1f}ms" if idle is not None else "        -"
        print(
            f"{label:32} {figures['per_s']:8.1f} {figures['p50'] * 1000:8.1f}ms "
            f"{figures['p99'] * 1000:8.1f}ms {idle_text}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=200)
    asyncio.run(main(parser.parse_args().executions))
