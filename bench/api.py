"""API benchmark: a real ``tav serve`` with everything persisted.

    make bench-api        # or: .venv/bin/python bench/api.py [--quick]

Starts ``tav serve`` (uvicorn) on a free port in a temporary data dir, creates an API key
with ``tav api-keys create``, stores a 10-node chain workflow and measures
``POST /api/v1/workflows/{id}/run?wait=true`` at concurrency 1 and 16, the database bytes
per stored execution, the time from process start to a served request and the idle
resident memory. Then a 10-node webhook workflow (``respond: when_done``) at concurrency
16, once keeping every success (``keep_successes: all``) and once only their count
(``count``). Prints figures next to their targets; it is not a test.
The load generator (a minimal HTTP/1.1 client, ``HttpConnection``) runs on the same machine
and takes CPU from the server.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import itertools
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

CHAIN_LENGTH = 9  # core.noop nodes after the trigger: 10 nodes in all
WEBHOOK_NOOPS = 8  # + trigger.webhook and core.output: 10 nodes
KEEPS = ("all", "count")
READY_TIMEOUT_S = 30.0


def chain_workflow() -> dict[str, Any]:
    nodes = [{"id": "start", "type": "trigger.manual"}]
    nodes += [{"id": f"n{i}", "type": "core.noop"} for i in range(CHAIN_LENGTH)]
    ids = [node["id"] for node in nodes]
    edges = [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]
    return {"schema": 1, "name": "bench chain", "nodes": nodes, "edges": edges}


def webhook_workflow(keep: str) -> dict[str, Any]:
    """``trigger.webhook`` at ``/webhook/bench-<keep>`` (answering when done), 8 ``core.noop``
    and ``core.output`` returning the trigger payload; ``settings.keep_successes: keep``."""
    hook = {
        "id": "hook",
        "type": "trigger.webhook",
        "params": {"path": f"bench-{keep}", "respond": "when_done", "rate_limit_per_minute": None},
    }
    nodes = [hook, *({"id": f"n{i}", "type": "core.noop"} for i in range(WEBHOOK_NOOPS))]
    nodes.append({"id": "result", "type": "core.output", "params": {"value": "{{ trigger }}"}})
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {
        "schema": 1,
        "name": f"bench webhook ({keep})",
        "settings": {"keep_successes": keep},
        "nodes": nodes,
        "edges": edges,
    }


def tav_command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("tav")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "tav", *args]


def compile_bytecode() -> None:
    """Compile the package's modules to bytecode, as installing it does (pip compiles a
    wheel's modules). A checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as on the machines
    this project runs on) never writes it, and every start would compile some 130 modules
    again: ~0.1 s that no installed server spends."""
    import tav

    compileall.compile_dir(Path(tav.__file__).parent, quiet=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TavServer:
    """A ``tav serve`` child process on a free port of 127.0.0.1."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "TAV_DATABASE_URL"}  # SQLite here
        self.env = {**env, "TAV_DATA_DIR": str(data_dir), "TAV_LOG_LEVEL": "WARNING"}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start it; returns seconds from process start to the first 200 of a request."""
        clock = time.perf_counter()
        self.process = subprocess.Popen(
            tav_command("serve", "--port", str(self.port)), env=self.env
        )
        with httpx.Client(base_url=self.url, timeout=1.0) as client:
            while time.perf_counter() - clock < READY_TIMEOUT_S:
                if self.process.poll() is not None:
                    raise SystemExit(f"tav serve exited with {self.process.returncode}")
                try:
                    if client.get("/api/v1/auth/status").status_code == 200:
                        return time.perf_counter() - clock
                except httpx.TransportError:
                    pass
                time.sleep(0.005)
        raise SystemExit(f"tav serve was not ready after {READY_TIMEOUT_S} s")

    def rss_mb(self) -> float:
        assert self.process is not None
        process = psutil.Process(self.process.pid)
        processes = [process, *process.children(recursive=True)]
        return sum(p.memory_info().rss for p in processes) / 2**20

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def create_api_key(self) -> str:
        done = subprocess.run(
            tav_command("api-keys", "create", "--name", "bench"),
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()


@dataclass
class Load:
    concurrency: int
    runs: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.runs / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class HttpConnection:
    """One keep-alive HTTP/1.1 connection, just enough of the protocol for the load.

    The load generator shares the 2 cores with the server; httpx spends about 2 ms of CPU
    per request here, as much as the server's whole budget at 500 runs/s, so the load goes
    through this instead (about a tenth of that). Requests are sent with a
    ``Content-Length`` body and answers read by their ``Content-Length`` (uvicorn sets it
    on every answer that is not streamed)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, url: str) -> HttpConnection:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer)

    async def post(self, path: str, headers: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (path.encode(), headers, len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = CONTENT_LENGTH.search(head)
        if length is None:
            raise SystemExit(f"an answer without Content-Length: {head[:300]!r}")
        return status, await self.reader.readexactly(int(length[1]))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *([0-9]+)", re.IGNORECASE)


def request_headers(url: str, key: str) -> bytes:
    host = url.removeprefix("http://")
    return (
        f"Host: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
    ).encode()


async def load(
    url: str,
    path: str,
    headers: bytes,
    check: Callable[[int, bytes], None],
    *,
    concurrency: int,
    requests: int,
    seconds: float,
) -> Load:
    """``requests`` POSTs to ``path`` (or fewer, when ``seconds`` runs out) by
    ``concurrency`` workers, each on a keep-alive connection of its own; ``check`` refuses
    a wrong answer."""
    latencies: list[float] = []
    remaining = requests
    connections = [await HttpConnection.open(url) for _ in range(concurrency)]
    deadline = time.perf_counter() + seconds

    async def worker(connection: HttpConnection) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            body = b'{"input":{"n":%d}}' % remaining
            clock = time.perf_counter()
            status, answer = await connection.post(path, headers, body)
            latencies.append((time.perf_counter() - clock) * 1000)
            check(status, answer)

    clock = time.perf_counter()
    await asyncio.gather(*(worker(connection) for connection in connections))
    elapsed = time.perf_counter() - clock
    for connection in connections:
        await connection.close()
    return Load(concurrency, len(latencies), elapsed, latencies)


def check_webhook(status: int, answer: bytes) -> None:
    if status != 200 or "input" not in json.loads(answer)["body"]:
        raise SystemExit(f"webhook failed: {status} {answer[:500]!r}")


def check_run(status: int, answer: bytes) -> None:
    if status != 200:
        raise SystemExit(f"run failed: {status} {answer[:500]!r}")
    execution = json.loads(answer)
    if execution.get("status") != "succeeded":
        raise SystemExit(f"execution {execution.get('status')}: {answer[:500]!r}")


def database_size(data_dir: Path) -> tuple[int, int]:
    """(bytes of tav.db + its WAL after a checkpoint, number of executions)."""
    database = data_dir / "tav.db"
    with sqlite3.connect(database, timeout=30) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        count = connection.execute("SELECT count(*) FROM executions").fetchone()[0]
    wal = database.with_name("tav.db-wal")
    size = database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return size, int(count)


def blob_bytes(data_dir: Path) -> float:
    """Average bytes of the compressed input and result blobs of an execution."""
    with sqlite3.connect(data_dir / "tav.db", timeout=30) as connection:
        row = connection.execute(
            "SELECT avg(coalesce(length(input), 0) + coalesce(length(result), 0))"
            " FROM execution_data"
        ).fetchone()
    return float(row[0] or 0)


async def run_load(url: str, key: str, args: argparse.Namespace) -> tuple[Load, Load]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        created = await client.post("/api/v1/workflows", json=chain_workflow())
        if created.status_code != 201:
            raise SystemExit(f"cannot store the workflow: {created.status_code} {created.text}")
        path = f"/api/v1/workflows/{created.json()['id']}/run?wait=true"
    run = (url, path, request_headers(url, key), check_run)
    await load(*run, concurrency=4, requests=args.warmup, seconds=30)
    serial = await load(*run, concurrency=1, requests=args.requests // 4, seconds=args.seconds)
    parallel = await load(*run, concurrency=16, requests=args.requests, seconds=args.seconds)
    return serial, parallel


async def run_webhooks(url: str, key: str, args: argparse.Namespace) -> dict[str, Load]:
    """The webhook workflow at concurrency 16, keeping every success and only a count."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        for keep in KEEPS:
            document = webhook_workflow(keep)
            created = await client.post("/api/v1/workflows?active=true", json=document)
            if created.status_code != 201:
                raise SystemExit(f"cannot store the webhook: {created.status_code} {created.text}")
    plain = f"Host: {url.removeprefix('http://')}\r\nContent-Type: application/json\r\n".encode()
    results = {}
    for keep in KEEPS:
        hook = (url, f"/webhook/bench-{keep}", plain, check_webhook)
        await load(*hook, concurrency=4, requests=args.warmup, seconds=30)
        results[keep] = await load(
            *hook, concurrency=16, requests=args.requests, seconds=args.seconds
        )
    return results


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report_load(result: Load, target: str | None = None) -> None:
    line = (
        f"  concurrency {result.concurrency:>2}: {result.per_second:7.1f} runs/s   "
        f"p50 {result.percentile(50):6.1f} ms   p99 {result.percentile(99):6.1f} ms   "
        f"({result.runs} runs in {result.seconds:.1f} s)"
    )
    print(line + (f"   {target}" if target else ""))


@dataclass
class Figures:
    serial: Load
    parallel: Load
    bytes_per_execution: float
    blob_bytes: float
    stored: int
    file_mb: float
    fresh_ready_s: float
    ready_s: float
    rss_start_mb: float
    rss_after_mb: float
    webhooks: dict[str, Load]


def measure(server: TavServer, args: argparse.Namespace) -> Figures:
    fresh_ready = server.start()
    time.sleep(1.0)
    rss_start = server.rss_mb()
    key = server.create_api_key()
    size_before, count_before = database_size(server.data_dir)
    serial, parallel = asyncio.run(run_load(server.url, key, args))
    time.sleep(2.0)
    rss_after = server.rss_mb()
    size_after, count_after = database_size(server.data_dir)
    blobs = blob_bytes(server.data_dir)
    webhooks = asyncio.run(run_webhooks(server.url, key, args))
    server.stop()
    ready = server.start()
    server.stop()
    stored = count_after - count_before
    return Figures(
        serial=serial,
        parallel=parallel,
        bytes_per_execution=(size_after - size_before) / max(stored, 1),
        blob_bytes=blobs,
        stored=stored,
        file_mb=size_after / 2**20,
        fresh_ready_s=fresh_ready,
        ready_s=ready,
        rss_start_mb=rss_start,
        rss_after_mb=rss_after,
        webhooks=webhooks,
    )


def report(figures: Figures) -> None:
    print(f"tav serve, 10-node chain (trigger.manual + {CHAIN_LENGTH} core.noop), SQLite,")
    print(
        "POST /api/v1/workflows/{id}/run?wait=true, the client on the same "
        f"{os.cpu_count()}-core machine"
    )
    report_load(figures.serial)
    parallel = figures.parallel
    report_load(parallel, f"target >= 500 runs/s: {verdict(parallel.per_second >= 500)}")
    per_execution = figures.bytes_per_execution
    print(
        f"database: {per_execution:,.0f} bytes per stored execution "
        f"({figures.stored:,} executions, {figures.file_mb:.1f} MB after a checkpoint; "
        f"compressed input + result {figures.blob_bytes:,.0f} bytes of it)"
        f"   target <= 2,048: {verdict(per_execution <= 2048)}"
    )
    ready = max(figures.fresh_ready_s, figures.ready_s)
    print(
        f"ready: {figures.fresh_ready_s:.2f} s on an empty data dir (creating the schema), "
        f"{figures.ready_s:.2f} s on a restart with the executions above"
        f"   target <= 1 s: {verdict(ready <= 1.0)}"
    )
    rss = max(figures.rss_start_mb, figures.rss_after_mb)
    print(
        f"idle RSS: {figures.rss_start_mb:.0f} MB after start, "
        f"{figures.rss_after_mb:.0f} MB after the load"
        f"   target <= 100 MB: {verdict(rss <= 100)}"
    )
    print(
        f"POST /webhook/bench-<keep> (trigger.webhook when_done + {WEBHOOK_NOOPS} core.noop + "
        "core.output), by settings.keep_successes:"
    )
    for keep, result in figures.webhooks.items():
        print(f"  keep {keep:<5}", end="")
        target = None
        if keep == "count":
            target = f"target >= 2,000 runs/s: {verdict(result.per_second >= 2000)}"
        report_load(result, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and print it")
    args = parser.parse_args()
    args.requests, args.seconds, args.warmup = (400, 5.0, 50) if args.quick else (4000, 20.0, 200)
    compile_bytecode()
    data_dir = Path(tempfile.mkdtemp(prefix="tav-bench-api-"))
    server = TavServer(data_dir)
    try:
        figures = measure(server, args)
    finally:
        server.stop()
        if args.keep:
            print(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    report(figures)


if __name__ == "__main__":
    main()
