"""What the editor's Executions page and workflow list read over HTTP: executions of every
workflow filtered by mode and start time, each workflow's latest execution (in the same
query as the page), and why a node was cancelled, as stored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tav.app.server import Server
from tests.api.helpers import chain, run_to_end, start, stored, until
from tests.helpers import document, node


def failing(name: str = "failing") -> dict[str, Any]:
    """``boom`` fails under ``stop``; ``after`` depends on it."""
    return document(
        node("start", "trigger.manual"),
        node("boom", "test.raise", params={"message": "kaput"}),
        node("after"),
        links=("start -> boom", "boom -> after"),
        name=name,
    )


async def ids(client, **params: Any) -> list[str]:
    answer = await client.get("/api/v1/executions", params=params)
    assert answer.status_code == 200, answer.text
    return [item["execution_id"] for item in answer.json()["items"]]


# -- the list of executions -------------------------------------------------------------


async def test_executions_of_every_workflow_filter_by_mode_and_start_time(client, server):
    first = await stored(server, chain(0, name="first"))
    second = await stored(server, failing("second"))
    runs = [
        await run_to_end(client, first, mode="editor"),
        await run_to_end(client, second),
        await run_to_end(client, first),
    ]
    newest_first = [run["execution_id"] for run in reversed(runs)]

    assert await ids(client) == newest_first
    assert await ids(client, mode="editor") == [runs[0]["execution_id"]]
    assert await ids(client, mode="api") == newest_first[:2]
    assert await ids(client, mode="webhook") == []
    assert await ids(client, status="failed", mode="api") == [runs[1]["execution_id"]]

    since = runs[1]["started_at"]  # at or after: the second run is in
    assert await ids(client, started_after=since) == newest_first[:2]
    assert await ids(client, started_before=since) == [runs[0]["execution_id"]]
    window = {"started_after": runs[0]["started_at"], "started_before": runs[2]["started_at"]}
    assert await ids(client, **window) == [runs[1]["execution_id"], runs[0]["execution_id"]]
    answer = await client.get(
        "/api/v1/executions", params={"started_after": since, "workflow_id": first}
    )
    assert answer.json()["total"] == 1


async def test_bad_filters_are_request_errors(client):
    for params in (
        {"mode": "browser"},
        {"started_after": "yesterday"},
        {"started_before": "2026-11-27T18:00:00"},  # a time without its offset is ambiguous
    ):
        answer = await client.get("/api/v1/executions", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["error"]["code"] == "request_invalid"


# -- why a node was cancelled, as stored ------------------------------------------------


async def test_a_node_after_a_failure_is_stored_as_not_run_for_it(client, server):
    execution = await run_to_end(client, await stored(server, failing()))
    assert execution["status"] == "failed"
    assert execution["nodes"]["after"]["status"] == "cancelled"
    assert execution["nodes"]["after"]["reason"] == "upstream_failed"
    assert "reason" not in execution["nodes"]["boom"]

    got = (await client.get(f"/api/v1/executions/{execution['execution_id']}")).json()
    assert got["nodes"]["after"]["reason"] == "upstream_failed"
    stream = await client.get(f"/api/v1/executions/{execution['execution_id']}/stream")
    cancelled = [line for line in stream.text.splitlines() if '"node.cancelled"' in line]
    assert len(cancelled) == 1
    assert '"reason":"upstream_failed"' in cancelled[0]


async def test_a_cancel_request_stores_cancelled_as_the_reason(client, server):
    execution_id = await start(client, await stored(server, chain(30, 0)))
    await until(client, execution_id, lambda e: "start" in e["nodes"])
    await client.post(f"/api/v1/executions/{execution_id}/cancel")
    execution = await until(client, execution_id, lambda e: e["status"] == "cancelled")
    assert execution["nodes"]["d1"]["reason"] == "cancelled"
    assert execution["nodes"]["d2"]["reason"] == "cancelled"


# -- the workflow list ------------------------------------------------------------------


@contextmanager
def statements(server: Server) -> Iterator[list[str]]:
    """The SQL statements the server runs meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = server.parts.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def listed(client) -> dict[str, Any]:
    answer = await client.get("/api/v1/workflows")
    assert answer.status_code == 200, answer.text
    return {item["name"]: item["last_execution"] for item in answer.json()["items"]}


async def test_the_workflow_list_shows_each_workflows_latest_execution(client, server):
    ok = await stored(server, chain(0, name="ok"))
    bad = await stored(server, failing("bad"))
    await stored(server, chain(0, name="never"))
    await run_to_end(client, ok)
    await run_to_end(client, bad)
    last_ok = await run_to_end(client, ok)
    last_bad = await run_to_end(client, bad)

    found = await listed(client)
    assert found["never"] is None
    assert found["ok"] == {
        "execution_id": last_ok["execution_id"],
        "status": "succeeded",
        "started_at": last_ok["started_at"],
        "finished_at": last_ok["finished_at"],
    }
    assert found["bad"]["execution_id"] == last_bad["execution_id"]
    assert found["bad"]["status"] == "failed"

    running = await start(client, await stored(server, chain(30, name="slow")))
    await until(client, running, lambda e: e["status"] == "running")
    slow = (await listed(client))["slow"]
    assert (slow["execution_id"], slow["status"], slow["finished_at"]) == (running, "running", None)
    await client.post(f"/api/v1/executions/{running}/cancel")


async def test_the_workflow_list_reads_latest_executions_in_one_query(client, server):
    """However many workflows the page holds: no query per workflow."""

    async def executions_queries() -> int:
        with statements(server) as seen:
            await listed(client)
        return sum(1 for statement in seen if "executions" in statement)

    first = await stored(server, chain(0, name="w0"))
    await run_to_end(client, first)
    with_one = await executions_queries()
    for index in range(1, 6):
        workflow_id = await stored(server, chain(0, name=f"w{index}"))
        await run_to_end(client, workflow_id)
    with_six = await executions_queries()

    assert with_one == with_six == 1
    assert all(last is not None for last in (await listed(client)).values())
