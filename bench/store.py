"""Storage benchmark: what persisting executions costs, on disk and in time.

    .venv/bin/python bench/store.py [--quick]

- the engine chain benchmark in memory and persisted (µs per node, and the ratio): in
  memory is an ``Executor`` with no store, as in ``bench/engine.py``; persisted is a run of
  the stored workflow through ``Executions.run``, timed from the start until its last result
  is durable (the run plus ``ExecutionWriter.flush()``);
- bytes of database per stored execution of a 10-node chain;
- listing (``ExecutionRepository.find``, a page of 50) among 100,000 stored executions.

SQLite in a temporary directory; PostgreSQL too when ``TAV_BENCH_PG_URL`` is set (an
``postgresql+asyncpg://`` URL of an empty database the benchmark may fill and empty).
Prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from tav.app.root import build
from tav.app.server import Server
from tav.core.events import utcnow
from tav.core.workflow import Workflow
from tav.engine.executor import Executor
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.registry import NodeRegistry
from tav.settings import Settings
from tav.storage.models import Base, ExecutionDataRow, ExecutionRow

CHAIN_SIZES = (1_000, 10_000)
STORED_EXECUTIONS = 2_000
LISTED_EXECUTIONS = 100_000


def chain(n: int) -> dict[str, Any]:
    nodes = [{"id": "start", "type": "trigger.manual"}]
    nodes += [{"id": f"n{i}", "type": "core.noop"} for i in range(n)]
    ids = [node["id"] for node in nodes]
    edges = [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]
    return {"schema": 1, "name": f"chain {n}", "nodes": nodes, "edges": edges}


def make_server(data_dir: Path, database_url: str | None) -> Server:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        retention_max_age_days=None,
        retention_max_count=None,
    )
    return Server(build(settings, registry=NodeRegistry(BUILTIN_NODE_TYPES)))


async def empty(server: Server) -> None:
    if server.parts.db.is_sqlite:
        return
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with server.parts.db.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} CASCADE"))


async def chain_figures(server: Server, repeat: int) -> None:
    """In memory (the executor alone) vs persisted (through the server and its writer)."""
    executor = Executor(server.parts.registry)
    for n in CHAIN_SIZES:
        stored = await server.parts.workflows.create(chain(n))
        document = stored.document
        plan = executor.compile(Workflow.model_validate(document))
        # compiled once, as in use
        server.parts.plans.compile(document, source=f"workflow:{stored.id}")
        memory, persisted = [], []
        for _ in range(repeat):  # interleaved, so that a noisy moment hits both alike
            clock = time.perf_counter()
            result = await executor.execute(plan, {})
            memory.append(time.perf_counter() - clock)
            assert result.succeeded, result.error
            clock = time.perf_counter()
            handle = await server.parts.executions_service.run(document, {}, stored=stored)
            result = await handle.wait()
            await server.parts.writer.flush()
            persisted.append(time.perf_counter() - clock)
            assert result.succeeded, result.error
        per_node = [
            [seconds / (n + 1) * 1e6 for seconds in sorted(samples)]
            for samples in (memory, persisted)
        ]
        best = [samples[0] for samples in per_node]
        medians = [statistics.median(samples) for samples in per_node]
        print(
            f"  N={n:>6,}: in memory {best[0]:6.1f} / {medians[0]:6.1f} µs/node, "
            f"persisted {best[1]:6.1f} / {medians[1]:6.1f} µs/node   "
            f"ratio x{best[1] / best[0]:.2f} best, x{medians[1] / medians[0]:.2f} median"
        )


async def bytes_per_execution(server: Server, path: Path | None) -> str:
    """Run many 10-node chains through the server; database growth ÷ executions."""
    workflow = await server.parts.workflows.create(chain(9))
    before = await database_bytes(server, path)
    clock = time.perf_counter()
    for start in range(0, STORED_EXECUTIONS, 100):
        handles = [
            await server.parts.executions_service.run(workflow.document, {"i": i}, stored=workflow)
            for i in range(start, start + 100)
        ]
        for handle in handles:
            assert (await handle.wait()).succeeded
    await server.parts.writer.flush()
    elapsed = time.perf_counter() - clock
    grown = await database_bytes(server, path) - before
    print(
        f"  {STORED_EXECUTIONS:,} executions of a 10-node chain: "
        f"{grown / STORED_EXECUTIONS:,.0f} bytes each "
        f"({STORED_EXECUTIONS / elapsed:,.0f} executions/s, 100 at a time)"
    )
    return workflow.id


async def database_bytes(server: Server, path: Path | None) -> int:
    async with server.parts.db.engine.connect() as connection:
        if path is None:
            size = await connection.scalar(text("SELECT pg_database_size(current_database())"))
            return int(size or 0)
        await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(path)  # noqa: ASYNC240 (a benchmark, between measurements)


async def listing(server: Server, workflow_id: str) -> None:
    """``find`` (a page of 50, newest first, with the total) among 100,000 executions."""
    have = (await server.parts.executions.find(limit=1))[1]
    await bulk_insert(server, LISTED_EXECUTIONS - have)
    for label, options in (
        ("all", {}),
        ("status=failed", {"status": "failed"}),
        ("one workflow", {"workflow_id": workflow_id}),
        ("page 100", {"offset": 50 * 99}),
    ):
        samples = []
        for _ in range(7):
            clock = time.perf_counter()
            rows, total = await server.parts.executions.find(limit=50, **options)
            samples.append(time.perf_counter() - clock)
        print(
            f"  {label:<14} {min(samples) * 1000:6.1f} ms best, "
            f"{statistics.median(samples) * 1000:6.1f} ms median  ({len(rows)} of {total:,})"
        )


async def bulk_insert(server: Server, count: int) -> None:
    """Executions rows as the writer leaves them, inserted directly (fast to make)."""
    stored = (await server.parts.executions.find(limit=1))[0][0]
    async with server.parts.db.session() as session:
        data = await session.get(ExecutionDataRow, stored.execution_id)
        assert data is not None
        input, result = data.input, data.result
    start = utcnow() - timedelta(days=30)
    for first in range(0, count, 10_000):
        rows, blobs = [], []
        for i in range(first, min(first + 10_000, count)):
            execution_id = uuid.uuid4().hex
            rows.append(
                {
                    "id": execution_id,
                    "workflow_id": None,
                    "workflow_version": None,
                    "workflow_name": "bench chain",
                    "status": "failed" if i % 100 == 0 else "succeeded",
                    "mode": "api",
                    "parent_id": None,
                    "error": None,
                    "started_at": start + timedelta(seconds=i),
                    "finished_at": start + timedelta(seconds=i, milliseconds=5),
                    "duration_ms": 5.0,
                    "last_seq": 22,
                }
            )
            blobs.append({"execution_id": execution_id, "input": input, "result": result})
        async with server.parts.db.transaction() as session:
            await session.execute(insert(ExecutionRow), rows)
            await session.execute(insert(ExecutionDataRow), blobs)


@contextlib.asynccontextmanager
async def serving(database_url: str | None) -> AsyncIterator[tuple[Server, Path | None]]:
    """A started server on a fresh database (SQLite in a temporary directory)."""
    with tempfile.TemporaryDirectory(prefix="tav-bench-") as tmp:
        data_dir = Path(tmp)
        server = make_server(data_dir, database_url)
        await server.parts.db.migrate()
        await empty(server)
        await server.start(resume=False, prune=False)
        try:
            yield server, None if database_url else data_dir / "tav.db"
        finally:
            await empty(server)
            await server.stop(timeout_s=0)


async def bench(name: str, database_url: str | None, repeat: int) -> None:
    async with serving(database_url) as (server, _):
        print(f"{name}: chain of core.noop (best / median of {repeat} runs)")
        await chain_figures(server, repeat)
    async with serving(database_url) as (server, path):
        print(f"{name}: size")
        workflow_id = await bytes_per_execution(server, path)
        print(f"{name}: list a page of 50 among {LISTED_EXECUTIONS:,} executions")
        await listing(server, workflow_id)
        if path is not None:
            size = await database_bytes(server, path)
            print(f"  database file: {size / 1e6:,.1f} MB")


async def main(repeat: int) -> None:
    await bench("SQLite", None, repeat)
    pg_url = os.environ.get("TAV_BENCH_PG_URL")
    if pg_url:
        await bench("PostgreSQL", pg_url, repeat)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions instead of 7")
    asyncio.run(main(3 if parser.parse_args().quick else 7))
