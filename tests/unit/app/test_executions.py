"""``Executions``: the use cases of executions, without HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tav.app.executions import Executions
from tav.app.server import Server
from tav.core.errors import Conflict, InputInvalid, NotFound, Unavailable
from tav.core.modes import ExecutionMode
from tav.core.states import ExecutionStatus, NodeStatus
from tests.helpers import document, node


@pytest.fixture
def executions(server: Server) -> Executions:
    return server.parts.executions_service


def flaky() -> dict[str, Any]:
    """``flaky`` fails as many first attempts as the global variable ``fails`` says."""
    return document(
        node("start", "trigger.manual"),
        node("before", "core.set", params={"values": {"seen": "{{ trigger.n }}"}}),
        node("flaky", "test.flaky", params={"fail_attempts": "{{ vars.fails }}"}),
        node("after", "core.output"),
        links=("start -> before", "before -> flaky", "flaky -> after"),
        name="flaky",
    )


async def test_retry_runs_again_from_the_failed_node(server: Server, executions: Executions):
    await server.parts.variables.put("fails", 1)
    stored = await server.parts.workflows.create(flaky())
    first = await executions.start(stored.id, {"n": 7})
    failed = await executions.finished(first.handle, first)
    assert failed.nodes["flaky"].status is NodeStatus.FAILED

    await server.parts.variables.put("fails", 0)
    again = await executions.retry(failed.execution_id)
    retried = await executions.finished(again.handle, again)

    assert retried.status is ExecutionStatus.SUCCEEDED
    assert (retried.mode, retried.retry_of) == (ExecutionMode.RETRY, failed.execution_id)
    assert (retried.workflow_id, retried.workflow_version) == (stored.id, 1)
    assert retried.nodes["before"].reused  # kept from the failed execution
    assert retried.nodes["before"].started_at == failed.nodes["before"].started_at
    assert not retried.nodes["flaky"].reused  # ran again, and everything after it
    assert retried.output == {"attempt": 1, "input": {"seen": 7}}
    assert retried.to_json() == (await executions.get(retried.execution_id)).to_json()


async def test_only_an_ended_unsuccessful_execution_is_retried(
    server: Server, executions: Executions
):
    stored = await server.parts.workflows.create(document(node("start", "trigger.manual")))
    started = await executions.start(stored.id)
    succeeded = await executions.finished(started.handle, started)
    with pytest.raises(Conflict, match="nothing to retry"):
        await executions.retry(succeeded.execution_id)
    with pytest.raises(NotFound):
        await executions.retry("f" * 32)


async def test_run_from_node_reuses_the_earlier_execution_and_its_input(
    server: Server, executions: Executions
):
    await server.parts.variables.put("fails", 0)
    stored = await server.parts.workflows.create(flaky())
    first = await executions.start(stored.id, {"n": 1})
    earlier = await executions.finished(first.handle, first)

    again = await executions.start(
        stored.id, from_execution=earlier.execution_id, start_at=["after"], same_input=True
    )
    record = await executions.finished(again.handle, again)

    assert record.input == {"n": 1}
    assert record.nodes["flaky"].reused
    assert not record.nodes["after"].reused
    with pytest.raises(InputInvalid, match="start_at needs from_execution"):
        await executions.start(stored.id, start_at=["after"])


async def test_delete_removes_the_sub_executions_and_their_files(
    server: Server, executions: Executions
):
    writes = await server.parts.workflows.create(
        document(
            node("start", "trigger.manual"),
            node("keep", "file.write", params={"content": "kept", "name": "kept.txt"}),
            links=("start -> keep",),
            name="writes",
        )
    )
    calls = await server.parts.workflows.create(
        document(node("call", "core.subworkflow", params={"workflow": writes.id}), name="calls")
    )
    started = await executions.start(calls.id)
    parent = await executions.finished(started.handle, started)
    assert parent.status is ExecutionStatus.SUCCEEDED
    files, _ = await server.parts.files.find()
    (written,) = files
    sub_execution = written.execution_id
    assert sub_execution not in (None, parent.execution_id)
    on_disk = server.parts.files.path_of(written)
    assert on_disk.exists()

    deleted = await executions.delete(parent.execution_id)

    assert set(deleted) == {parent.execution_id, sub_execution}
    assert await server.parts.files.get(written.id) is None
    assert not on_disk.exists()
    with pytest.raises(NotFound):
        await executions.get(sub_execution)


async def test_a_running_execution_is_cancelled_not_deleted(server: Server, executions: Executions):
    stored = await server.parts.workflows.create(
        document(node("wait", "core.delay", params={"seconds": 30}))
    )
    started = await executions.start(stored.id)
    await started.recorded
    with pytest.raises(Conflict, match="cancel it first"):
        await executions.delete(started.handle.execution_id)

    handle = await executions.cancel(started.handle.execution_id)
    record = await executions.finished(handle)

    assert record.status is ExecutionStatus.CANCELLED
    with pytest.raises(Conflict, match="already been cancelled"):
        await executions.cancel(record.execution_id)
    assert await executions.delete(record.execution_id) == [record.execution_id]


async def test_nothing_starts_while_the_host_shuts_down(server: Server, executions: Executions):
    stored = await server.parts.workflows.create(document(node("start", "trigger.manual")))
    executions.accepting = False
    with pytest.raises(Unavailable):
        await executions.start(stored.id)
    assert executions.running == {}
