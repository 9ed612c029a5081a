"""The trigger manager: arms the triggers of active workflows and keeps them in step.

Activating a workflow through the manager (the API does) checks it, stores the ``active``
flag and arms its triggers at once; deactivating disarms them at once. The ``active``
flags are also polled every ``sync_every_s`` seconds, so a workflow (de)activated by
``tav workflows activate`` in another process, or changed by another server on the same
database, is armed, re-armed or disarmed within that time. At start every active workflow
is armed again, so active triggers survive restarts.

The kinds a manager arms are records (``tav.triggers.kinds``): the built-ins and those
plugins add (``tav.triggers.discovery``). A workflow can be activated only if it has a
trigger node of a kind that arms (not ``manual``), its trigger params hold no template,
and no other active workflow holds one of its *claims* (a webhook method and path):
those are ``ActivationInvalid`` and ``TriggerClash``.

With several API processes on one database, webhooks are armed by each (a request reaches
one of them), while the kinds that run in the background (schedules, subscriptions,
pollers: ``TriggerKindSpec.everywhere`` false) are armed by the trigger leader only
(``leadership``). A follower knows every active workflow all the same, and arms their
background triggers the moment it becomes the leader; a leader that loses the lead
disarms them at once.

Rejected: arming only what the API activates (the CLI works on the data dir with no server
to tell, and a second server would never hear of it), and a database trigger or
LISTEN/NOTIFY (SQLite has neither).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from tav.core.errors import NotFound
from tav.core.workflow import parse_workflow
from tav.engine.plan import ExecutionPlan, PlannedNode, compile_plan
from tav.nodes.capabilities import TriggerCapability
from tav.nodes.registry import NodeRegistry
from tav.triggers.base import (
    Activation,
    ActivationInvalid,
    Armed,
    Host,
    Refusal,
    Target,
    TriggerClash,
)
from tav.triggers.kinds import BUILTIN_KINDS, Kinds, TriggerKindSpec, default_kinds
from tav.triggers.leadership import Leadership, process_name
from tav.triggers.ports import TriggeredWorkflow, WorkflowSource
from tav.triggers.schedule import LATE_S
from tav.triggers.webhook import WebhookRoutes

logger = logging.getLogger("tav.triggers")
SYNC_EVERY_S = 5.0


def plan_triggers(plan: ExecutionPlan, kinds: Kinds) -> tuple[list[Activation], frozenset[str]]:
    """The triggers to arm for a compiled workflow, and the ids of all its trigger nodes.

    Raises ``ActivationInvalid`` when there is nothing to arm or a trigger cannot be."""
    activations: list[Activation] = []
    problems: list[dict[str, Any]] = []
    trigger_nodes = []
    for node in plan.nodes.values():
        if not isinstance(node.instance, TriggerCapability):
            continue
        trigger_nodes.append(node.id)
        kind_name = node.node_type.trigger_kind  # type: ignore[attr-defined]
        if kinds.by_hand(kind_name):
            continue
        try:
            activations.append(_activation(node, kind_name, kinds))
        except ActivationInvalid as exc:
            problems += exc.at(node.id).problems
    if problems:
        raise ActivationInvalid.of(problems)
    if not activations:
        raise ActivationInvalid(
            f"the workflow has no trigger to activate: add a {kinds.armable_titles()} "
            "trigger (trigger.manual runs only by hand)",
            code=Refusal.NO_TRIGGER,
        )
    return activations, frozenset(trigger_nodes)


def _activation(node: PlannedNode, kind_name: str, kinds: Kinds) -> Activation:
    kind = kinds.get(kind_name)
    if kind is None:
        raise ActivationInvalid(
            f"trigger kind {kind_name!r} is not known to this server (is the plugin that "
            "adds it installed?)",
            code=Refusal.KIND_UNKNOWN,
        )
    if node.static_params is None:
        raise ActivationInvalid("trigger params cannot hold templates", code=Refusal.TEMPLATED)
    assert isinstance(node.instance, TriggerCapability)  # only trigger nodes come here
    activation = node.instance.activation(node.static_params)
    try:
        config = kind.parse(activation)
    except ValidationError as exc:
        message = f"cannot arm it: {exc.errors()[0]['msg']}"
        raise ActivationInvalid(message, code=Refusal.PARAMS_INVALID) from None
    return Activation(node.id, kind_name, config, kind.claims(config))


def plan_document(
    document: Mapping[str, Any], registry: NodeRegistry, kinds: Kinds
) -> tuple[list[Activation], frozenset[str]]:
    """``plan_triggers`` of a workflow document (raises ``WorkflowInvalid`` too)."""
    workflow = parse_workflow(dict(document), structure=False)
    return plan_triggers(compile_plan(workflow, registry), kinds)


def find_clash(
    workflow_id: str | None,
    activations: Iterable[Activation],
    others: Iterable[tuple[TriggeredWorkflow, Iterable[Activation]]],
) -> None:
    """Raise ``TriggerClash`` if another workflow holds one of these claims."""
    claims = {claim for activation in activations for claim in activation.claims}
    if not claims:
        return
    for other, other_activations in others:
        if other.id == workflow_id:
            continue
        for activation in other_activations:
            shared = sorted(claims & activation.claims)
            if shared:
                raise TriggerClash(shared[0], other.id, other.name)


@dataclass
class ArmedWorkflow:
    workflow: TriggeredWorkflow
    activations: list[Activation]
    trigger_nodes: frozenset[str]
    """Every trigger node of the workflow (a run started by one skips the others)."""
    armed: dict[str, Armed] = field(default_factory=dict)
    """The armed triggers by node id: all of ``activations``, except, while this process
    does not lead, those that only the leader arms."""


class TriggerManager:
    def __init__(
        self,
        registry: NodeRegistry,
        workflows: WorkflowSource,
        host: Host,
        *,
        sync_every_s: float = SYNC_EVERY_S,
        kinds: Sequence[TriggerKindSpec] = BUILTIN_KINDS,
        leadership: Leadership | None = None,
        schedule_late_s: float = LATE_S,
    ) -> None:
        """``kinds``: the records of the kinds to arm (``discover_kinds`` finds them).
        ``leadership``: shared with the other API processes of the database (``None``:
        this process is the only one, and leads)."""
        self.registry = registry
        self.workflows = workflows
        self.host = host
        self.sync_every_s = sync_every_s
        self.webhooks = WebhookRoutes()
        self.kinds = default_kinds(self.webhooks, kinds, schedule_late_s=schedule_late_s)
        self.armed: dict[str, ArmedWorkflow] = {}
        self.running = False
        self.leadership = leadership
        self.name = leadership.lock.name if leadership is not None else process_name()
        self._lock = asyncio.Lock()
        self._sync_task: asyncio.Task[None] | None = None
        self._leading_task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        """Whether this process arms the background triggers (schedules, subscriptions,
        pollers)."""
        return self.running and (self.leadership is None or self.leadership.leading)

    async def leader(self) -> str | None:
        """The process that leads the triggers (``host:pid``); ``None`` while none does."""
        if self.leadership is None:
            return self.name if self.running else None
        return await self.leadership.holder()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Arm every active workflow (its background triggers if this process leads),
        then keep in step with the ``active`` flags, and try to lead while it does not."""
        self.running = True
        leadership = self.leadership
        if leadership is not None:
            await leadership.acquire()
        await self.sync()
        self._sync_task = asyncio.create_task(self._sync_forever(), name="trigger sync")
        if leadership is not None:
            self._leading_task = asyncio.create_task(
                leadership.keep(self._gained, self._lost), name="trigger leadership"
            )
            self._leading_task.add_done_callback(_log_end)

    async def stop(self) -> None:
        """Disarm everything (the workflows stay active: they are armed at the next start),
        and give up the lead for another process to take."""
        self.running = False
        for task in (self._sync_task, self._leading_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._sync_task = self._leading_task = None
        async with self._lock:
            for workflow_id in list(self.armed):
                await self._disarm(workflow_id)
        if self.leadership is not None:
            await self.leadership.release()

    async def _gained(self) -> None:
        """Now the leader: arm the background triggers of every active workflow."""
        async with self._lock:
            for armed in list(self.armed.values()):
                try:
                    await self._arm_missing(armed)
                except Exception as exc:
                    name = armed.workflow.name
                    logger.warning("active workflow %r is not armed in full: %s", name, exc)

    async def _lost(self) -> None:
        """No longer the leader: disarm the background triggers at once (not waiting for
        a sync that may be waiting for the database)."""
        for armed in list(self.armed.values()):
            for activation in armed.activations:
                if activation.node_id in armed.armed and not self._arms(activation):
                    await armed.armed.pop(activation.node_id).stop()

    # -- what the API does ----------------------------------------------------------------

    def plan(self, document: Mapping[str, Any]) -> tuple[list[Activation], frozenset[str]]:
        return plan_document(document, self.registry, self.kinds)

    async def check(self, workflow_id: str | None, document: Mapping[str, Any]) -> None:
        """Raise unless a workflow with ``document`` could be active (``WorkflowInvalid``,
        ``ActivationInvalid`` or ``TriggerClash``)."""
        activations, _ = self.plan(document)
        for activation in activations:
            try:
                await self.kinds[activation.kind].check(activation.config, self.host)
            except ActivationInvalid as exc:
                raise exc.at(activation.node_id) from None
        others = [(armed.workflow, armed.activations) for armed in self.armed.values()]
        find_clash(workflow_id, activations, others)

    async def activate(self, workflow_id: str) -> TriggeredWorkflow:
        """Check, store active and arm at once. Raises ``NotFound`` too."""
        async with self._lock:
            workflow = await self._fresh(workflow_id)
            await self.check(workflow.id, workflow.document)
            changed = await self.workflows.set_active(workflow.id, True)
            if changed is None:
                raise NotFound(f"no workflow with id {workflow_id!r}")
            await self._disarm(changed.id)
            if self.running:
                await self._arm(changed)
            return changed

    async def deactivate(self, workflow_id: str) -> TriggeredWorkflow:
        async with self._lock:
            changed = await self.workflows.set_active(workflow_id, False)
            await self._disarm(workflow_id)
            if changed is None:
                raise NotFound(f"no workflow with id {workflow_id!r}")
            return changed

    async def refresh(self, workflow_id: str) -> None:
        """Re-arm (or disarm) a workflow that was just saved or deleted."""
        async with self._lock:
            workflow = await self.workflows.get(workflow_id)
            await self._disarm(workflow_id)
            if workflow is not None and workflow.active and self.running:
                await self._arm_logged(workflow)

    async def _fresh(self, workflow_id: str) -> TriggeredWorkflow:
        workflow = await self.workflows.get(workflow_id)
        if workflow is None:
            raise NotFound(f"no workflow with id {workflow_id!r}")
        return workflow

    # -- keeping in step ------------------------------------------------------------------

    async def sync(self) -> None:
        """Arm, re-arm and disarm after the stored ``active`` flags and versions."""
        async with self._lock:
            versions = await self.workflows.active_versions()
            for workflow_id in [w for w in self.armed if w not in versions]:
                await self._disarm(workflow_id)
            changed = [
                workflow_id
                for workflow_id, version in versions.items()
                if workflow_id not in self.armed
                or self.armed[workflow_id].workflow.version != version
            ]
            if not changed:
                return
            for workflow in await self.workflows.active_workflows(changed):
                await self._disarm(workflow.id)
                await self._arm_logged(workflow)

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sync_every_s)
            try:
                await self.sync()
            except Exception:
                logger.exception("cannot bring the triggers in step with the active workflows")

    async def _arm_logged(self, workflow: TriggeredWorkflow) -> None:
        """Arm a workflow found active; a problem is logged (the workflow stays active
        and is tried again when it changes or the server restarts)."""
        try:
            activations, _ = self.plan(workflow.document)
            others = [(armed.workflow, armed.activations) for armed in self.armed.values()]
            find_clash(workflow.id, activations, others)
            await self._arm(workflow)
        except Exception as exc:
            logger.warning(
                "active workflow %r (%s) is not armed: %s", workflow.name, workflow.id, exc
            )

    # -- arming ---------------------------------------------------------------------------

    async def _arm(self, workflow: TriggeredWorkflow) -> None:
        activations, trigger_nodes = self.plan(workflow.document)
        armed = self.armed[workflow.id] = ArmedWorkflow(workflow, activations, trigger_nodes)
        try:
            await self._arm_missing(armed)
        except BaseException:
            await self._disarm(workflow.id)  # what did arm, and the claims it holds
            raise
        logger.info("armed %d trigger(s) of workflow %r", len(armed.armed), workflow.name)

    async def _arm_missing(self, armed: ArmedWorkflow) -> None:
        """Arm the triggers of ``armed`` that are not yet, and that this process arms."""
        for activation in armed.activations:
            node_id = activation.node_id
            if node_id in armed.armed or not self._arms(activation):
                continue
            target = Target(armed.workflow, node_id, armed.trigger_nodes - {node_id})
            trigger = self.kinds[activation.kind].arm(target, activation.config, self.host)
            await trigger.start()
            armed.armed[node_id] = trigger
            if not self._arms(activation):  # the lead was lost meanwhile
                await armed.armed.pop(node_id).stop()

    def _arms(self, activation: Activation) -> bool:
        """Whether this process arms ``activation`` now."""
        return self.leading or self.kinds.everywhere(activation.kind)

    async def _disarm(self, workflow_id: str) -> None:
        armed = self.armed.pop(workflow_id, None)
        if armed is not None:
            for trigger in armed.armed.values():
                await trigger.stop()


def _log_end(task: asyncio.Task[None]) -> None:
    """The leadership task ends only when cancelled; anything else is a bug to show."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("trigger leadership stopped", exc_info=error)
