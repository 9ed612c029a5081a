"""Fan-out benchmark: a webhook whose workflow makes 50 GETs of 100 ms each, then answers.

    make bench-fanout      # or: .venv/bin/python bench/fanout.py [--quick] [--runs N]

Starts a fake upstream in this process (uvicorn on 127.0.0.1; it answers every GET after
100 ms) and ``tav serve`` on a free port in a temporary data dir (SQLite, everything
persisted). Stores and activates three workflows, each started by ``trigger.webhook``
with ``respond: when_done`` and ending in ``core.output``:

- *list form*: one ``core.http_request`` with ``requests`` (the 50 URLs) and
  ``concurrency: 50``;
- *core.map*: ``core.map`` over the 50 URLs, ``concurrency: 50``, running a stored
  workflow (``trigger.manual`` -> ``core.http_request`` -> ``core.output``) per URL,
  each run inside the parent's execution;
- *core.map, separate executions*: the same with ``separate_executions: true``, each run
  stored as an execution of its own (what every ``core.map`` did before).

It sends ``POST /webhook/<path>`` one at a time, the three interleaved, and prints each
one's best, median and 95th percentile from sending the request to reading the whole
answer, beside the floor: 0.100 s, the one round of 100 ms GETs that 50 GETs at once take
at best, and the CPU time the server's process spent per run (``psutil``; steadier than
the wall clock on a busy machine). Prints figures; it is not a test. The client, the
upstream and the server share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvicorn

from api import HttpConnection, TavServer, compile_bytecode  # bench/api.py

GETS = 50
DELAY_S = 0.1
FLOOR_S = DELAY_S
TARGET_S = 0.12
VARIANTS = {
    "list": "core.http_request, list form",
    "map": "core.map (runs inside the execution)",
    "separate": "core.map, separate executions",
}


class Upstream:
    """The fake upstream (ASGI): every request is answered after ``DELAY_S``."""

    def __init__(self) -> None:
        self.url = ""
        self.served = 0

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(DELAY_S)
        self.served += 1
        body = json.dumps({"path": scope["path"]}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serving(app: Upstream) -> AsyncIterator[Upstream]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    app.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield app
    finally:
        server.should_exit = True
        await task


def hooked(path: str, fetch: dict[str, Any]) -> dict[str, Any]:
    """trigger.webhook (answers when done) -> ``fetch`` -> core.output."""
    webhook = {
        "id": "hook",
        "type": "trigger.webhook",
        "params": {"path": path, "respond": "when_done", "rate_limit_per_minute": None},
    }
    output = {"id": "out", "type": "core.output"}
    edges = [{"from": "hook", "to": fetch["id"]}, {"from": fetch["id"], "to": "out"}]
    return {
        "schema": 1,
        "name": f"fan-out {path}",
        "nodes": [webhook, fetch, output],
        "edges": edges,
    }


CHILD = {
    "schema": 1,
    "name": "get one",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "get", "type": "core.http_request", "params": {"url": "{{ trigger.item }}"}},
        {"id": "out", "type": "core.output", "params": {"value": "{{ nodes.get.output.body }}"}},
    ],
    "edges": [{"from": "start", "to": "get"}, {"from": "get", "to": "out"}],
}


async def store(url: str, key: str, upstream: str) -> None:
    urls = [f"{upstream}/item/{i}" for i in range(GETS)]
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        child = await client.post("/api/v1/workflows", json=CHILD)
        child_id = child.json()["id"]
        listing = {"requests": urls, "concurrency": GETS}
        mapping = {"items": urls, "workflow": child_id, "concurrency": GETS}
        documents = {
            "list": {"id": "get", "type": "core.http_request", "params": listing},
            "map": {"id": "get", "type": "core.map", "params": mapping},
            "separate": {
                "id": "get",
                "type": "core.map",
                "params": {**mapping, "separate_executions": True},
            },
        }
        for path, fetch in documents.items():
            created = await client.post("/api/v1/workflows?active=true", json=hooked(path, fetch))
            if created.status_code != 201:
                raise SystemExit(f"cannot store {path}: {created.status_code} {created.text}")


def check(status: int, answer: bytes) -> None:
    if status != 200:
        raise SystemExit(f"webhook failed: {status} {answer[:500]!r}")
    bodies = json.loads(answer)
    paths = [body["body"]["path"] if "body" in body else body["path"] for body in bodies]
    if paths != [f"/item/{i}" for i in range(GETS)]:
        raise SystemExit(f"unexpected answer: {answer[:500]!r}")


@dataclass
class Figures:
    """Per variant: each measured run's wall time, and the server's CPU time in all."""

    times: dict[str, list[float]] = field(default_factory=lambda: {n: [] for n in VARIANTS})
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(VARIANTS, 0.0))

    def cpu_ms(self, name: str) -> float:
        return self.cpu[name] / len(self.times[name]) * 1000


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def measure(url: str, key: str, server: psutil.Process, args: argparse.Namespace) -> Figures:
    figures = Figures()
    async with serving(Upstream()) as upstream:
        await store(url, key, upstream.url)
        connection = await HttpConnection.open(url)
        headers = f"Host: {url.removeprefix('http://')}\r\nContent-Type: application/json\r\n"
        try:
            for round_ in range(args.warmup + args.runs):
                for name in VARIANTS:
                    cpu, clock = cpu_seconds(server), time.perf_counter()
                    status, answer = await connection.post(
                        f"/webhook/{name}", headers.encode(), b"{}"
                    )
                    elapsed = time.perf_counter() - clock
                    check(status, answer)
                    if round_ >= args.warmup:
                        figures.times[name].append(elapsed)
                        figures.cpu[name] += cpu_seconds(server) - cpu
        finally:
            await connection.close()
    return figures


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(figures: Figures) -> None:
    times = figures.times
    print(
        f"webhook -> {GETS} GETs of {DELAY_S * 1000:.0f} ms each -> answer "
        f"(tav serve, SQLite, {os.cpu_count()} cores, {len(times['list'])} runs each)"
    )
    print(f"  {'':<40} {'best':>8} {'median':>8} {'p95':>8} {'server CPU':>11}")
    for name, title in VARIANTS.items():
        values = times[name]
        median = statistics.median(values)
        verdict = ""
        if name != "separate":
            verdict = f"   target <= {TARGET_S:.2f} s: {'met' if median <= TARGET_S else 'MISSED'}"
        print(
            f"  {title:<40} {min(values):7.3f}s {median:7.3f}s {p95(values):7.3f}s "
            f"{figures.cpu_ms(name):8.1f} ms{verdict}"
        )
    print(f"  {'floor (one round of GETs)':<40} {FLOOR_S:7.3f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke run)")
    parser.add_argument("--runs", type=int, default=None, help="measured runs of each")
    args = parser.parse_args()
    args.warmup = 2 if args.quick else 5
    args.runs = args.runs or (5 if args.quick else 40)
    compile_bytecode()
    data_dir = Path(tempfile.mkdtemp(prefix="tav-bench-fanout-"))
    server = TavServer(data_dir)
    try:
        server.start()
        key = server.create_api_key()
        assert server.process is not None
        process = psutil.Process(server.process.pid)
        figures = asyncio.run(measure(server.url, key, process, args))
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    report(figures)


if __name__ == "__main__":
    main()
