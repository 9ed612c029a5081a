"""Vector store benchmark: upsert rate and search latency of ``VectorStore``.

    .venv/bin/python bench/vectors.py [--quick] [--n 10000] [--dim 384]

- upsert: N random vectors (fixed seed) with metadata, in batches of 500 (what
  ``ai.vector_upsert`` sends for big inputs), into a new collection, then the same ids
  again (replacing every record);
- search: the k=4 nearest of a random query, unfiltered and with a metadata filter that
  keeps a tenth of the records; in SQL with sqlite-vec, and ranked in Python (what
  PostgreSQL, or a SQLite without sqlite-vec, does).

SQLite in a temporary directory; PostgreSQL too when ``TAV_BENCH_PG_URL`` is set (a
``postgresql+asyncpg://`` URL of a database the benchmark may fill; it deletes its
collection at the end). Prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from tav.nodes.ai import VectorRecord
from tav.storage.db import Database
from tav.storage.vectors import VectorStore

BATCH = 500
COLLECTION = "bench"


def records(n: int, dim: int, seed: int) -> list[VectorRecord]:
    rng = random.Random(seed)
    return [
        VectorRecord(
            id=f"doc{i // 20}-{i % 20}",
            text=f"chunk {i % 20} of document {i // 20}",
            vector=[rng.uniform(-1, 1) for _ in range(dim)],
            metadata={"source": f"doc{i // 20}.md", "chunk": i % 20, "group": i % 10},
        )
        for i in range(n)
    ]


async def upsert_rate(store: VectorStore, batch: list[VectorRecord]) -> float:
    started = time.perf_counter()
    for start in range(0, len(batch), BATCH):
        await store.upsert(COLLECTION, batch[start : start + BATCH])
    return len(batch) / (time.perf_counter() - started)


async def latencies(
    store: VectorStore, queries: list[list[float]], where: dict[str, int] | None
) -> list[float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        matches = await store.search(COLLECTION, query, k=4, where=where)
        times.append((time.perf_counter() - started) * 1000)
        assert len(matches) == 4
    return times


def line(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"  {label:<34} {min(times):8.1f} ms best {statistics.median(times):8.1f} ms median "
        f"{p95:8.1f} ms p95  ({len(times)} queries)"
    )


async def bench(url: str, name: str, n: int, dim: int, runs: int) -> None:
    db = Database(url)
    await db.migrate()
    store = VectorStore(db)
    await store.delete(COLLECTION)
    try:
        data = records(n, dim, seed=1)
        rng = random.Random(2)
        queries = [[rng.uniform(-1, 1) for _ in range(dim)] for _ in range(runs)]
        native = await store.native_search()
        version = await store.sqlite_vec_version()
        print(f"{name}: {n:,} vectors of {dim} dimensions", end="")
        print(f" (sqlite-vec {version})" if version else " (ranked in Python)")
        print(
            f"  upsert, new records, batches of {BATCH}: {await upsert_rate(store, data):10,.0f} /s"
        )
        again = records(n, dim, seed=3)
        print(
            f"  upsert, replacing every record:        {await upsert_rate(store, again):10,.0f} /s"
        )
        if native:
            print(line("search k=4 (SQL, sqlite-vec)", await latencies(store, queries, None)))
            print(
                line(
                    "search k=4, where group=3 (SQL)", await latencies(store, queries, {"group": 3})
                )
            )
            store = VectorStore(db, rank_in_python=True)
        python_queries = queries[: max(3, runs // 10)]
        print(line("search k=4 (ranked in Python)", await latencies(store, python_queries, None)))
        print(
            line(
                "search k=4, where group=3 (Python)",
                await latencies(store, python_queries, {"group": 3}),
            )
        )
    finally:
        await store.delete(COLLECTION)
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="vectors in the collection")
    parser.add_argument("--dim", type=int, default=384, help="dimensions of each vector")
    parser.add_argument("--quick", action="store_true", help="10 queries instead of 50")
    args = parser.parse_args()
    runs = 10 if args.quick else 50
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'tav.db'}"
        await bench(url, "SQLite", args.n, args.dim, runs)
    pg_url = os.environ.get("TAV_BENCH_PG_URL")
    if pg_url:
        await bench(pg_url, "PostgreSQL", args.n, args.dim, runs)


if __name__ == "__main__":
    asyncio.run(main())
