"""``Workflows``: saving keeps a workflow's triggers in step, without HTTP. The triggers
are a recording fake here; ``DeferredTriggers`` is the one a process that arms nothing
(``tav workflows``) uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tav.app.plans import Plans
from tav.app.workflows import DeferredTriggers, Workflows
from tav.core.errors import NotFound, WorkflowInvalid
from tav.engine.executor import Executor
from tav.nodes.registry import NodeRegistry
from tav.storage.db import Database
from tav.storage.workflows import VersionConflict, WorkflowRepository
from tav.triggers import ActivationInvalid, TriggerClash
from tav.triggers.ports import TriggeredWorkflow
from tests.helpers import document, node


class RecordingTriggers:
    """``Triggers`` that note what they are asked; ``refuse`` makes ``check`` raise it."""

    def __init__(self, workflows: WorkflowRepository) -> None:
        self.workflows = workflows
        self.calls: list[tuple[str, str | None]] = []
        self.refuse: Exception | None = None

    async def check(self, workflow_id: str | None, document: Mapping[str, Any]) -> None:
        self.calls.append(("check", workflow_id))
        if self.refuse is not None:
            raise self.refuse

    async def activate(self, workflow_id: str) -> TriggeredWorkflow:
        self.calls.append(("activate", workflow_id))
        changed = await self.workflows.set_active(workflow_id, True)
        assert changed is not None
        return changed

    async def deactivate(self, workflow_id: str) -> TriggeredWorkflow:
        self.calls.append(("deactivate", workflow_id))
        changed = await self.workflows.set_active(workflow_id, False)
        assert changed is not None
        return changed

    async def refresh(self, workflow_id: str) -> None:
        self.calls.append(("refresh", workflow_id))


@pytest.fixture
async def repository(tmp_path: Path) -> AsyncIterator[WorkflowRepository]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tav.db'}")
    await db.migrate()
    yield WorkflowRepository(db, cache_ttl_s=0)
    await db.close()


@pytest.fixture
def triggers(repository: WorkflowRepository) -> RecordingTriggers:
    return RecordingTriggers(repository)


@pytest.fixture
def workflows(
    repository: WorkflowRepository, triggers: RecordingTriggers, registry: NodeRegistry
) -> Workflows:
    return Workflows(repository, triggers, Plans(Executor(registry)))


def hooked(name: str = "orders", path: str = "orders") -> dict[str, Any]:
    return document(node("hook", "trigger.webhook", params={"path": path}), name=name)


async def test_saving_an_active_workflow_checks_and_rearms_its_triggers(
    workflows: Workflows, triggers: RecordingTriggers
):
    workflow = await workflows.create(hooked(), active=True)
    assert triggers.calls == [("check", None), ("refresh", workflow.id)]
    triggers.calls.clear()

    saved = await workflows.save(workflow, hooked(path="orders/v2"))

    assert saved.version == 2
    assert saved.active
    assert triggers.calls == [("check", workflow.id), ("refresh", workflow.id)]


async def test_saving_an_inactive_workflow_leaves_the_triggers_alone(
    workflows: Workflows, triggers: RecordingTriggers
):
    workflow = await workflows.create(hooked())
    await workflows.save(workflow, hooked(path="elsewhere"))
    assert triggers.calls == []


async def test_a_version_the_triggers_refuse_is_not_stored(
    workflows: Workflows, triggers: RecordingTriggers
):
    workflow = await workflows.create(hooked(), active=True)
    triggers.refuse = ActivationInvalid("the workflow has no trigger to activate")

    with pytest.raises(ActivationInvalid):
        await workflows.save(workflow, document(node("start", "trigger.manual")))

    assert (await workflows.get(workflow.id)).version == 1
    assert triggers.calls[2:] == [("check", workflow.id)]  # and no re-arming


async def test_a_document_that_cannot_run_is_refused_before_anything_is_asked(
    workflows: Workflows, triggers: RecordingTriggers
):
    broken = document(node("start", "trigger.manual"), node("x", "no.such_type"))
    with pytest.raises(WorkflowInvalid) as raised:
        await workflows.create(broken, active=True)
    assert [problem.node for problem in raised.value.problems] == ["x"]
    assert triggers.calls == []
    assert (await workflows.find())[1] == 0


async def test_a_stale_save_is_a_conflict_and_a_restore_is_a_new_version(
    workflows: Workflows,
):
    workflow = await workflows.create(hooked())
    second = await workflows.save(workflow, hooked(path="second"), base_version=1)
    with pytest.raises(VersionConflict) as raised:
        await workflows.save(workflow, hooked(path="lost"), base_version=1)
    assert raised.value.details == {"current_version": 2}

    restored = await workflows.restore(second, 1)

    assert restored.version == 3
    assert restored.document == hooked()


async def test_deleting_disarms(workflows: Workflows, triggers: RecordingTriggers):
    workflow = await workflows.create(hooked())
    await workflows.delete(workflow.id)
    assert triggers.calls == [("refresh", workflow.id)]
    with pytest.raises(NotFound):
        await workflows.delete(workflow.id)
    with pytest.raises(NotFound):
        await workflows.get(workflow.id)


async def test_deferred_activation_checks_the_stored_active_workflows(
    repository: WorkflowRepository, registry: NodeRegistry
):
    """What ``tav workflows activate`` does with no server to arm the triggers."""
    workflows = Workflows(
        repository, DeferredTriggers(repository, registry), Plans(Executor(registry))
    )
    first = await workflows.create(hooked("first"))
    second = await workflows.create(hooked("second"))
    by_hand = await workflows.create(document(node("start", "trigger.manual"), name="by hand"))

    assert (await workflows.activate(first.id)).active
    with pytest.raises(TriggerClash, match="'first'"):
        await workflows.activate(second.id)
    with pytest.raises(ActivationInvalid, match="no trigger to activate"):
        await workflows.activate(by_hand.id)
    assert not (await workflows.get(second.id)).active

    assert not (await workflows.deactivate(first.id)).active
    assert (await workflows.activate(second.id)).active
    with pytest.raises(NotFound):
        await workflows.activate("0" * 32)
