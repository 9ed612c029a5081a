"""Queue mode with real processes: ``tav serve`` and ``tav worker`` over PostgreSQL (a
database of its own per test), a broker (a ``redis-server`` of its own per test on a spare
port, or the machine's RabbitMQ) and one shared data dir (the files)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tav.storage.db import Database
from tav.storage.executions import ExecutionRecord, ExecutionRepository
from tav.storage.workflows import WorkflowRepository

TAV = [sys.executable, "-m", "tav"]
RABBITMQ_URL = os.environ.get("TAV_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Redis:
    """A ``redis-server`` of the test's own, which it may kill and start again."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.skip("redis-server is not installed")
        with self.log.open("a") as output:
            self.process = subprocess.Popen(
                [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                subprocess.run(["sleep", "0.02"], check=True)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Process:
    """One ``tav serve`` or ``tav worker``."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("a") as output:
            self.popen = subprocess.Popen(
                [*TAV, *args], env=env, stdout=output, stderr=subprocess.STDOUT
            )

    def signal(self, sig: signal.Signals) -> None:
        self.popen.send_signal(sig)

    def alive(self) -> bool:
        return self.popen.poll() is None

    async def wait(self, within_s: float) -> int:
        return await asyncio.to_thread(self.popen.wait, within_s)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGCONT)
            self.popen.kill()
            self.popen.wait(timeout=10)


class Cluster:
    """API processes and workers of one deployment, and its database."""

    def __init__(self, tmp_path: Path, database_url: str, queue_url: str, **env: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
        self.env.update(
            TAV_DATA_DIR=str(tmp_path / "data"),
            TAV_DATABASE_URL=database_url,
            TAV_QUEUE_URL=queue_url,
            TAV_SHUTDOWN_TIMEOUT_S="2",
            TAV_QUEUE_LEASE_S="3",
            TAV_QUEUE_SWEEP_S="0.5",
            TAV_QUEUE_PUBLISH_TIMEOUT_S="1",
            TAV_LOG_LEVEL="INFO",
            **env,
        )
        self.processes: list[Process] = []
        created = subprocess.run(
            [*TAV, "api-keys", "create", "--name", "t", "--init"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        self.headers = {"Authorization": f"Bearer {created.stdout.strip()}"}

    async def serve(self, **env: str) -> tuple[Process, httpx.AsyncClient]:
        port = free_port()
        log = self.tmp_path / f"serve-{len(self.processes)}.log"
        process = Process(["serve", "--port", str(port)], {**self.env, **env}, log)
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url) as probe, asyncio.timeout(30):
            while True:
                assert process.alive(), log.read_text()
                try:
                    if (await probe.get("/api/v1/auth/status")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        return process, httpx.AsyncClient(base_url=url, headers=self.headers, timeout=30)

    async def worker(self, concurrency: int = 8, **env: str) -> Process:
        log = self.tmp_path / f"worker-{len(self.processes)}.log"
        args = ["worker", "--concurrency", str(concurrency)]
        process = Process(args, {**self.env, **env}, log)
        self.processes.append(process)
        async with asyncio.timeout(30):
            while " ready." not in log.read_text():
                assert process.alive(), log.read_text()
                await asyncio.sleep(0.05)
        return process

    def our_tracebacks(self) -> list[str]:
        """Tracebacks through TAV's own code in the processes' logs (Celery logs the
        broker's going away with one of its own, which is not ours)."""
        found = []
        for process in self.processes:
            text = process.log.read_text() if process.log.exists() else ""
            for block in text.split("Traceback (most recent call last):")[1:]:
                # (Celery logs the task a stopping worker gives back, with its traceback)
                if "/src/tav/" in block and "celery.exceptions.Reject" not in block:
                    found.append(f"{process.log.name}: {block[:3000]}")
        return found

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.log.name}\n{p.log.read_text()}" for p in self.processes if p.log.exists()
        )

    def close(self) -> None:
        for process in self.processes:
            process.kill()

    async def db(self) -> Database:
        return Database(self.database_url)

    async def store_workflow(self, doc: dict[str, Any]) -> str:
        db = await self.db()
        try:
            return (await WorkflowRepository(db).create(doc)).id
        finally:
            await db.close()

    async def stored(self, execution_id: str) -> tuple[ExecutionRecord, list[dict[str, Any]]]:
        db = await self.db()
        try:
            executions = ExecutionRepository(db)
            record = await executions.get(execution_id)
            assert record is not None
            return record, await executions.events(execution_id)
        finally:
            await db.close()

    async def column(self, execution_id: str, name: str) -> Any:
        connection = await asyncpg.connect(self.database_url.replace("+asyncpg", ""))
        try:
            return await connection.fetchval(
                f"SELECT {name} FROM executions WHERE id = $1", execution_id
            )
        finally:
            await connection.close()
