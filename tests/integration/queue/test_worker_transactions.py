"""What a worker asks PostgreSQL for one execution of a workflow it has run before: the
claim, which brings the execution as stored, and the batch that stores its end and frees
its lease (a claim, a read, the version's document, the earlier results and a release
were five more transactions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event

from tav.app.root import build
from tav.queue.runner import Runner
from tav.settings import Settings
from tests.helpers import document, node
from tests.integration.queue.cluster import Redis


def chain() -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("a", "core.noop"),
        node("b", "core.noop"),
        links=("start -> a", "a -> b"),
    )


async def test_a_worker_runs_an_execution_in_two_transactions(
    tmp_path: Path, database_url: str, redis: Redis
):
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, queue_url=redis.url)
    parts = build(settings, database_pool=4)
    runner = Runner(parts, name="test-worker")
    await runner.start()
    transactions: list[list[str]] = []
    current: dict[int, list[str]] = {}  # (by connection: transactions may interleave)

    def began(connection: Any) -> None:
        transaction: list[str] = []
        transactions.append(transaction)
        current[id(connection)] = transaction

    def statement(connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if id(connection) in current:
            current[id(connection)].append(" ".join(sql.split())[:90])

    try:
        workflow = await parts.workflows.create(chain())
        service = parts.executions_service
        service.accepting = True  # (as an API process enqueues them)
        first = (await service.start(workflow.id)).handle.execution_id
        assert await runner.run(first) == "ran"  # (reads and keeps the workflow's version)
        second = (await service.start(workflow.id)).handle.execution_id
        engine = parts.db.engine.sync_engine
        event.listen(engine, "begin", began)
        event.listen(engine, "before_cursor_execute", statement)
        try:
            assert await runner.run(second) == "ran"
        finally:
            event.remove(engine, "begin", began)
            event.remove(engine, "before_cursor_execute", statement)
        record = await service.get(second)
    finally:
        await runner.stop(1)
    assert record.status.value == "succeeded", record
    assert [n.status.value for n in record.nodes.values()] == ["succeeded"] * 3
    # (less the note that the execution was published, by the API side in this process)
    transactions = [t for t in transactions if "SET published_at" not in t[0]]
    assert len(transactions) == 2, "\n".join(map(str, transactions))
    claim, end = transactions
    assert any(s.startswith("UPDATE executions SET worker") for s in claim), claim
    assert any(s.startswith("SELECT executions.id") for s in claim), claim  # (its record)
    assert any("UPDATE executions SET lease_token" in s for s in end), end
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        row = await connection.fetchrow(
            "SELECT lease_token, worker FROM executions WHERE id = $1", second
        )
    finally:
        await connection.close()
    assert (row["lease_token"], row["worker"]) == (None, "test-worker")
