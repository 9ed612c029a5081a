"""Queue mode benchmark: ``tav serve`` and 1, 2 and 4 ``tav worker`` processes over
PostgreSQL and a Redis of its own, beside one ``tav serve`` running everything itself.

    .venv/bin/python bench/queue_mode.py [--executions 200]

The workflow is I/O-bound: 10 HTTP calls of 100 ms to a local server (an aiohttp app in
this process), 5 at a time (five chains of two). The bench posts the executions (32 at
a time, no waiting), then waits until every one has ended, and prints for each setup
executions per second (from the first post to the last end) and enqueue-to-start latency
(from an execution's commit, ``started_at``, to its first node starting), p50 and p99;
then the latency on an idle cluster (one execution at a time, ``?wait=true``).

Then the same for a CPU-bound workflow: the 10-node chain of ``bench/api.py``
(``trigger.manual`` and 9 ``core.noop``, nothing to wait for), with 1 and 2 workers.

Everything runs on this machine: the load generator, the upstream server, PostgreSQL,
Redis and the processes measured share its cores. So each line also says where the CPU
went while it was measured: the cores' busy share (``busy``: 100 % is both cores all the
time), and CPU milliseconds per execution in the API process, the workers, PostgreSQL (all
its processes) and Redis; when the cores are busy, the largest of these is the limit.
It prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
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


def cpu_workflow() -> dict[str, Any]:
    """The 10-node chain of bench/api.py: a trigger and 9 ``core.noop``."""
    ids = ["start", *(f"n{i}" for i in range(9))]
    nodes = [{"id": "start", "type": "trigger.manual"}]
    nodes += [{"id": node_id, "type": "core.noop"} for node_id in ids[1:]]
    edges = [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]
    return {"schema": 1, "name": "cpu", "nodes": nodes, "edges": edges}


class CpuMeter:
    """CPU time spent by groups of processes, and the machine's busy share, over a span.

    A group given as a callable is listed again at the end (PostgreSQL starts a process per
    connection): processes that started meanwhile count whole; ones that also ended
    meanwhile are missed."""

    def __init__(self, groups: dict[str, Callable[[], list[psutil.Process]]]) -> None:
        self.groups = groups
        self._before: dict[str, dict[int, float]] = {}
        self._machine: Any = None

    @staticmethod
    def _seconds(processes: list[psutil.Process]) -> dict[int, float]:
        seconds = {}
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            seconds[process.pid] = times.user + times.system
        return seconds

    def start(self) -> None:
        self._before = {name: self._seconds(list_()) for name, list_ in self.groups.items()}
        self._machine = psutil.cpu_times()

    def stop(self, executions: int) -> dict[str, float]:
        """CPU ms per execution of each group, and ``busy``: the cores' busy share."""
        figures = {}
        for name, list_ in self.groups.items():
            before = self._before[name]
            after = self._seconds(list_())
            spent = sum(t - before.get(pid, 0.0) for pid, t in after.items())
            figures[name] = spent * 1000 / executions
        machine = psutil.cpu_times()
        idle = (machine.idle + getattr(machine, "iowait", 0.0)) - (
            self._machine.idle + getattr(self._machine, "iowait", 0.0)
        )
        total = sum(machine) - sum(self._machine)
        figures["busy"] = 1 - idle / total if total else 0.0
        return figures


def postgres_processes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres",)]


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

    def meter(self, redis: subprocess.Popen[bytes] | None) -> CpuMeter:
        api, *workers = (psutil.Process(p.pid) for p in self.processes)
        broker = [psutil.Process(redis.pid)] if redis is not None else []
        return CpuMeter(
            {
                "api": lambda: [api],
                "workers": lambda: workers,
                "postgres": postgres_processes,
                "redis": lambda: broker,
            }
        )

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def measure(
    client: httpx.AsyncClient, workflow_id: str, count: int, meter: CpuMeter | None = None
) -> dict[str, float]:
    gate = asyncio.Semaphore(32)

    async def post() -> str:
        async with gate:
            response = await client.post(f"/api/v1/workflows/{workflow_id}/run", json={})
            response.raise_for_status()
            return str(response.json()["execution_id"])

    if meter is not None:
        meter.start()
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
    cpu = meter.stop(count) if meter is not None else {}
    latencies.sort()
    return {
        **cpu,
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
    root: Path,
    env: dict[str, str],
    workers: int,
    workflow: dict[str, Any],
    count: int,
    redis: subprocess.Popen[bytes] | None,
    idle: bool = False,
) -> tuple[dict[str, float], float | None]:
    deployment = Deployment(root, env)
    try:
        async with await deployment.serve() as client:
            if workers:
                await deployment.workers(client, workers)
            created = await client.post("/api/v1/workflows", json=workflow)
            workflow_id = created.json()["id"]
            await measure(client, workflow_id, min(count, 20))  # warm up
            meter = deployment.meter(redis if workers else None)
            figures = await measure(client, workflow_id, count, meter)
            return figures, await idle_latency(client, workflow_id) if idle else None
    finally:
        deployment.stop()


Row = tuple[str, dict[str, float], float | None]


async def setups(
    tmp: Path,
    redis: subprocess.Popen[bytes],
    redis_url: str,
    workflow: dict[str, Any],
    workers: tuple[int, ...],
    count: int,
) -> list[Row]:
    """The single process, then queue mode with each number of ``workers``; a database
    of its own for each."""
    rows: list[Row] = []
    for count_of_workers in (0, *workers):
        name, db_url = await database()
        env = {"TAV_DATABASE_URL": db_url}
        if count_of_workers:
            env["TAV_QUEUE_URL"] = redis_url
        idle = count_of_workers <= 1
        label = (
            f"queue, {count_of_workers} worker(s)"
            if count_of_workers
            else "single process (PostgreSQL)"
        )
        try:
            root = tmp / f"{workflow['name']}{count_of_workers}"
            figures, idle_s = await setup_run(
                root, env, count_of_workers, workflow, count, redis, idle
            )
            rows.append((label, figures, idle_s))
        finally:
            await drop(name)
    return rows


def table(title: str, rows: list[Row]) -> None:
    print(title)
    print(
        f"{'setup':30} {'exec/s':>7} {'scale':>5} {'start p50':>9} {'p99':>8} {'idle p50':>8}"
        f" {'busy':>5} {'CPU ms/exec: api':>16} {'workers':>7} {'pg':>5} {'redis':>5}"
    )
    base = next((f["per_s"] for label, f, _ in rows if "1 worker" in label), None)
    for label, figures, idle in rows:
        scale = f"{figures['per_s'] / base:5.2f}" if base and "worker" in label else "    -"
        idle_text = f"{idle * 1000:6.1f}ms" if idle is not None else "       -"
        print(
            f"{label:30} {figures['per_s']:7.1f} {scale} {figures['p50'] * 1000:7.1f}ms"
            f" {figures['p99'] * 1000:6.1f}ms {idle_text} {figures['busy'] * 100:4.0f}%"
            f" {figures['api']:16.1f} {figures['workers']:7.1f} {figures['postgres']:5.1f}"
            f" {figures['redis']:5.1f}"
        )
    print()


async def main(count: int) -> None:
    runner, url = await upstream()
    redis_port = free_port()
    redis = subprocess.Popen(  # noqa: ASYNC220 (started once, before measuring)
        [shutil.which("redis-server") or "redis-server", "--port", str(redis_port), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            io_rows = await setups(Path(tmp), redis, redis_url, io_workflow(url), (1, 2, 4), count)
            cpu_rows = await setups(Path(tmp), redis, redis_url, cpu_workflow(), (1, 2), count)
    finally:
        redis.terminate()
        await runner.cleanup()
    table(f"I/O-bound workflow (10 HTTP calls of 100 ms, 5 at a time), {count} executions", io_rows)
    table(f"CPU-bound workflow (10-node chain of core.noop), {count} executions", cpu_rows)
    print(
        "scale = executions/s against 1 worker; start = from an execution's commit to its first"
        " node starting;\nidle = the same, one execution at a time; busy = the 2 cores' busy"
        " share while measured."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=200)
    asyncio.run(main(parser.parse_args().executions))
