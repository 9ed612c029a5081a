"""Workflows as the API and ``tav workflows`` change them: create (or import), save a new
version, restore an old one, activate, deactivate, delete.

Every document stored is checked first, as a run would compile it (``WorkflowInvalid``
with every problem). A workflow's triggers follow it: saving an active workflow checks
that the new version can be active too (``ActivationInvalid``, ``TriggerClash``) and then
re-arms them; deleting one disarms them.

Who arms them is the ``Triggers`` given: a server's ``TriggerManager`` arms at once;
``DeferredTriggers`` (a process that arms nothing, such as ``tav workflows``) only checks
and stores the ``active`` flag, and a running server arms within ``TAV_TRIGGER_SYNC_S``.

On a server, a workflow open in the editor has a live draft (``Drafts``: the rooms of
``tav.collab``) that people change together and that nothing runs. Saving the draft makes
it a numbered version, checked as any save is (``save_draft``); a version saved otherwise
(a save through the API, a restore) becomes the draft at once, as one change everyone in
it sees; deleting the workflow closes its room. Triggers only ever run saved versions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from tav.app.plans import Plans
from tav.app.tools import check_input_schema, check_tool_name
from tav.core.errors import NotFound, WorkflowInvalid
from tav.nodes.registry import NodeRegistry
from tav.storage.workflows import (
    STORED_ID,
    ListedWorkflow,
    StoredWorkflow,
    VersionInfo,
    WorkflowRepository,
    WorkflowVersion,
)
from tav.triggers import (
    BUILTIN_KINDS,
    ActivationInvalid,
    TriggerKindSpec,
    default_kinds,
    find_clash,
    plan_document,
)
from tav.triggers.ports import TriggeredWorkflow
from tav.triggers.webhook import WebhookRoutes


class Triggers(Protocol):
    """What the use cases need from whoever arms triggers (``TriggerManager``)."""

    async def check(self, workflow_id: str | None, document: Mapping[str, Any]) -> None:
        """Raise unless a workflow with ``document`` could be active (``WorkflowInvalid``,
        ``ActivationInvalid`` or ``TriggerClash``)."""
        ...

    async def activate(self, workflow_id: str) -> TriggeredWorkflow:
        """Check, store active and arm. Raises ``NotFound`` too."""
        ...

    async def deactivate(self, workflow_id: str) -> TriggeredWorkflow:
        """Store inactive and disarm. Raises ``NotFound`` too."""
        ...

    async def refresh(self, workflow_id: str) -> None:
        """Re-arm (or disarm) a workflow that was just saved or deleted."""
        ...


Saved = TypeVar("Saved", bound=StoredWorkflow)


class Drafts(Protocol):
    """The live drafts of the workflows being edited together (``tav.collab.Rooms``)."""

    async def draft(self, workflow_id: str) -> tuple[dict[str, Any], int]:
        """The draft as a workflow document (not checked), and the saved version it is
        based on. Raises ``NotFound``."""
        ...

    async def save(
        self, workflow_id: str, store: Callable[[dict[str, Any]], Awaitable[Saved]]
    ) -> Saved:
        """Hand the draft to ``store``, which saves it as a version; the draft is then
        based on that version."""
        ...

    async def saved(self, workflow_id: str, document: dict[str, Any], version: int) -> None:
        """A version was saved not from the draft: the draft becomes it."""
        ...

    async def deleted(self, workflow_id: str) -> None:
        """The workflow is gone: its draft and its room with it."""
        ...


class Workflows:
    def __init__(
        self,
        workflows: WorkflowRepository,
        triggers: Triggers,
        plans: Plans,
        drafts: Drafts | None = None,
    ) -> None:
        self.workflows = workflows
        self.triggers = triggers
        self.plans = plans
        self.drafts = drafts

    # -- reading --------------------------------------------------------------------------

    async def get(self, workflow_id: str) -> StoredWorkflow:
        """The workflow at its current version; ``NotFound`` if there is none."""
        found = await self.workflows.get(workflow_id) if STORED_ID.match(workflow_id) else None
        if found is None:
            raise _unknown(workflow_id)
        return found

    async def find(
        self, *, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[ListedWorkflow], int]:
        """Most recently saved first, each with its latest execution, and how many match
        in all."""
        return await self.workflows.find(search=search, limit=limit, offset=offset)

    async def versions(self, workflow_id: str) -> list[VersionInfo]:
        """Every saved version, newest first."""
        return await self.workflows.versions(workflow_id)

    async def version(self, workflow_id: str, version: int) -> WorkflowVersion:
        found = await self.workflows.version(workflow_id, version)
        if found is None:
            raise NotFound(f"workflow {workflow_id!r} has no version {version}")
        return found

    async def check(self, document: Mapping[str, Any]) -> None:
        """Raise ``WorkflowInvalid`` with every problem unless the document can run.

        On a worker thread: compiling takes about half a millisecond per template, and a
        large document must not hold up everything else."""
        await self.plans.compile_off_loop(document)
        check_input_schema(document)

    # -- changing -------------------------------------------------------------------------

    async def create(
        self, document: dict[str, Any], *, active: bool = False, by: str | None = None
    ) -> StoredWorkflow:
        """Store a new workflow as version 1 (checked first), saved by the user ``by``;
        ``active`` arms its triggers too, once they are checked."""
        await self.check(document)
        await check_tool_name(self.workflows, None, document)
        if active:
            await self.triggers.check(None, document)
        workflow = await self.workflows.create(document, active=active, created_by=by)
        if active:
            await self.triggers.refresh(workflow.id)
        return workflow

    async def save(
        self,
        workflow: StoredWorkflow,
        document: dict[str, Any],
        *,
        base_version: int | None = None,
        by: str | None = None,
    ) -> StoredWorkflow:
        """Save the document as a new version of ``workflow``, saved by the user ``by``.
        ``base_version``: only if the workflow is still at that version
        (``VersionConflict`` otherwise). An active workflow's triggers are checked first
        and re-armed after. The live draft, if the workflow has one, becomes the
        document."""
        saved = await self._save(workflow, document, base_version, by)
        if self.drafts is not None:
            await self.drafts.saved(saved.id, saved.document, saved.version)
        return saved

    async def _save(
        self,
        workflow: StoredWorkflow,
        document: dict[str, Any],
        base_version: int | None,
        by: str | None,
    ) -> StoredWorkflow:
        await self.check(document)
        await check_tool_name(self.workflows, workflow.id, document)
        if workflow.active:
            await self.triggers.check(workflow.id, document)
        saved = await self.workflows.update(
            workflow.id, document, base_version=base_version, created_by=by
        )
        if saved is None:  # deleted meanwhile
            raise _unknown(workflow.id)
        if saved.active or workflow.active:
            await self.triggers.refresh(workflow.id)
        return saved

    async def draft(self, workflow_id: str) -> tuple[dict[str, Any], int]:
        """The workflow's live draft as a document (not checked): what people editing it
        see now; and the saved version it is based on. Without live drafts (``tav
        workflows``), the saved document."""
        workflow = await self.get(workflow_id)
        if self.drafts is None:
            return workflow.document, workflow.version
        return await self.drafts.draft(workflow.id)

    async def save_draft(
        self,
        workflow: StoredWorkflow,
        *,
        prepare: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
        base_version: int | None = None,
        by: str | None = None,
    ) -> StoredWorkflow:
        """Save the live draft as a new version, as ``save`` would save it; ``prepare``
        checks it first as a document from outside is checked (size, JSON, validity).
        Changes made to the draft meanwhile stay in it, unsaved."""

        async def store(document: dict[str, Any]) -> StoredWorkflow:
            return await self._save(workflow, await prepare(document), base_version, by)

        if self.drafts is None:
            return await store(workflow.document)
        return await self.drafts.save(workflow.id, store)

    async def restore(
        self,
        workflow: StoredWorkflow,
        version: int,
        *,
        base_version: int | None = None,
        by: str | None = None,
    ) -> StoredWorkflow:
        """Save an earlier version's document again, as a new version (it must still
        pass the checks of a save)."""
        old = await self.version(workflow.id, version)
        return await self.save(workflow, old.document, base_version=base_version, by=by)

    async def activate(self, workflow_id: str) -> StoredWorkflow:
        """Check that the workflow can be active, store it active and arm its triggers.

        ``ActivationInvalid`` if it has nothing to arm, or a trigger that cannot be;
        ``TriggerClash`` if another active workflow holds one of its claims."""
        return _stored(await self.triggers.activate(workflow_id))

    async def deactivate(self, workflow_id: str) -> StoredWorkflow:
        """Store the workflow inactive and disarm its triggers; runs they started go on."""
        return _stored(await self.triggers.deactivate(workflow_id))

    async def delete(self, workflow_id: str) -> None:
        """Delete the workflow and its versions, and disarm it; its executions stay,
        unlinked."""
        if not STORED_ID.match(workflow_id) or not await self.workflows.delete(workflow_id):
            raise _unknown(workflow_id)
        await self.triggers.refresh(workflow_id)
        if self.drafts is not None:
            await self.drafts.deleted(workflow_id)


class DeferredTriggers:
    """``Triggers`` of a process that arms none (``tav workflows``): activation checks
    the workflow's triggers against the stored active workflows and stores the flag; the
    server running on the same data dir arms them within ``TAV_TRIGGER_SYNC_S``.

    Credentials are not checked here but when the server arms the triggers: this process
    may not hold the key that opens them."""

    def __init__(
        self,
        workflows: WorkflowRepository,
        registry: NodeRegistry,
        kinds: Sequence[TriggerKindSpec] = BUILTIN_KINDS,
    ) -> None:
        """``kinds``: the trigger kinds the server knows (``discover_kinds``), plugins'
        included, so that a workflow it can arm is not refused here."""
        self.workflows = workflows
        self.registry = registry
        self.kinds = default_kinds(WebhookRoutes(), kinds)

    async def check(self, workflow_id: str | None, document: Mapping[str, Any]) -> None:
        activations, _ = plan_document(document, self.registry, self.kinds)
        others = []
        for other in await self.workflows.active_workflows():
            try:
                others.append((other, plan_document(other.document, self.registry, self.kinds)[0]))
            except (ActivationInvalid, WorkflowInvalid):
                continue  # not armed anywhere, so it holds nothing
        find_clash(workflow_id, activations, others)

    async def activate(self, workflow_id: str) -> TriggeredWorkflow:
        workflow = await self.workflows.get(workflow_id)
        if workflow is None:
            raise _unknown(workflow_id)
        await self.check(workflow.id, workflow.document)
        return _found(await self.workflows.set_active(workflow.id, True), workflow_id)

    async def deactivate(self, workflow_id: str) -> TriggeredWorkflow:
        return _found(await self.workflows.set_active(workflow_id, False), workflow_id)

    async def refresh(self, workflow_id: str) -> None:
        """Nothing to do: the server's next sync sees the change."""


def _stored(workflow: TriggeredWorkflow) -> StoredWorkflow:
    assert isinstance(workflow, StoredWorkflow)  # what the repository gives the triggers
    return workflow


def _found(workflow: StoredWorkflow | None, workflow_id: str) -> StoredWorkflow:
    if workflow is None:
        raise _unknown(workflow_id)
    return workflow


def _unknown(workflow_id: str) -> NotFound:
    return NotFound(f"no workflow with id {workflow_id!r}")
