"""What ``Executions`` keeps of a success: the workflow's ``settings.keep_successes``, else
the runtime setting; runs of a person looking into a workflow keep everything."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tav.app.executions import Executions
from tav.app.server import Server
from tav.core.errors import NotFound
from tav.core.modes import ExecutionMode
from tav.core.states import ExecutionStatus
from tav.settings import RuntimeSettings
from tests.helpers import document, node


@pytest.fixture
def executions(server: Server) -> Executions:
    return server.parts.executions_service


def slow(keep: str | None, seconds: float = 0.2) -> dict[str, Any]:
    """start -> wait (``seconds``) -> flaky (fails as many first attempts as the global variable
    ``fails`` says) -> out."""
    extra = {"settings": {"keep_successes": keep}} if keep else {}
    return document(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": seconds}),
        node("flaky", "test.flaky", params={"fail_attempts": "{{ vars.fails | default(0) }}"}),
        node("out", "core.output"),
        links=("start -> wait", "wait -> flaky", "flaky -> out"),
        name="slow",
        **extra,
    )


async def test_a_count_execution_is_listed_while_it_runs_and_gone_once_it_succeeds(
    server: Server, executions: Executions
):
    # (a delay a loaded machine cannot outrun between the start and the read below)
    stored = await server.parts.workflows.create(slow("count", seconds=1.0))
    started = await executions.start(stored.id, {"n": 1})
    await started.recorded
    await asyncio.sleep(0.05)  # ``start`` has settled, ``wait`` runs

    running = await executions.get(started.handle.execution_id)
    assert running.status is ExecutionStatus.RUNNING
    assert running.nodes == {}  # held in memory, not written
    finished = await executions.finished(started.handle, started)

    assert finished.status is ExecutionStatus.SUCCEEDED
    assert finished.kept == "count"
    assert finished.output == finished.nodes["flaky"].outputs["output"]
    with pytest.raises(NotFound):
        await executions.get(finished.execution_id)
    count, last = await executions.not_kept(stored.id)
    assert count == 1
    assert last == finished.finished_at


async def test_a_retry_of_a_failure_keeps_everything(server: Server, executions: Executions):
    await server.parts.variables.put("fails", 1)
    stored = await server.parts.workflows.create(slow("count"))
    first = await executions.start(stored.id, {"n": 2})
    failed = await executions.finished(first.handle, first)
    assert failed.status is ExecutionStatus.FAILED
    assert (await executions.get(failed.execution_id)).nodes["wait"].status.value == "succeeded"

    await server.parts.variables.put("fails", 0)
    again = await executions.retry(failed.execution_id)
    retried = await executions.finished(again.handle, again)
    assert retried.status is ExecutionStatus.SUCCEEDED
    assert retried.mode is ExecutionMode.RETRY
    assert retried.kept == "all"
    assert (await executions.get(retried.execution_id)).nodes["out"].outputs
    assert (await executions.not_kept(stored.id))[0] == 0


async def test_the_runtime_setting_applies_to_executions_started_after_it_changed(
    server: Server, executions: Executions
):
    stored = await server.parts.workflows.create(slow(None))
    before = await executions.start(stored.id)
    kept = await executions.finished(before.handle, before)
    await server.parts.settings_service.change(RuntimeSettings(keep_successes="summary"))
    after = await executions.start(stored.id)
    summary = await executions.finished(after.handle, after)

    assert (await executions.get(kept.execution_id)).kept == "all"
    stored_summary = await executions.get(summary.execution_id)
    assert (stored_summary.kept, stored_summary.nodes) == ("summary", {})
    assert summary.nodes  # the answer of a run that waited is whole


async def test_a_run_from_the_editor_keeps_everything(server: Server, executions: Executions):
    stored = await server.parts.workflows.create(slow("count"))
    started = await executions.start(stored.id, mode=ExecutionMode.EDITOR)
    finished = await executions.finished(started.handle, started)

    assert finished.kept == "all"
    assert (await executions.get(finished.execution_id)).nodes["out"].status.value == "succeeded"
