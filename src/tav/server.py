"""The long-running side of TAV Engine: database, writer, executor, running executions.

``Server`` is a composition root shared by ``tav serve`` (the HTTP API) and by ``tav run``
(which stores its execution in the data dir too). It starts executions of stored or ad-hoc
workflows, resumes the ones a dead process left unfinished, prunes old executions, and
shuts down so that whatever it could not finish resumes on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from tav.ai import AIConfig, AIServices
from tav.ai.http import ProviderHttp
from tav.ai.text import RecursiveTextSplitter
from tav.core.errors import FailureKind, NotFound, Problem, WorkflowInvalid
from tav.core.modes import ExecutionMode
from tav.core.results import ErrorInfo, ExecutionResult, NodeResult
from tav.core.states import ExecutionStatus, NodeStatus
from tav.core.workflow import Workflow, parse_workflow
from tav.credentials import CredentialService, KeySource, Vault
from tav.credentials import logs as redacting_logs
from tav.engine.bus import InMemoryBus
from tav.engine.executor import ExecutionHandle, Executor, Resume
from tav.engine.loader import FileWorkflowLoader
from tav.engine.plan import ExecutionPlan
from tav.engine.pools import Pools
from tav.engine.template_budget import TemplateLimits
from tav.nodes.ai import WorkflowDescription
from tav.nodes.discovery import default_registry
from tav.nodes.host import PdfFonts
from tav.nodes.outbound import OutboundPolicy
from tav.nodes.outbound import client as outbound_client
from tav.nodes.registry import NodeRegistry
from tav.services import ServiceConfig, build_services
from tav.settings import RuntimeSettings, Settings
from tav.storage import owners
from tav.storage.ai_cache import AICacheRepository
from tav.storage.auth import SETUP_TOKEN_FILE, AuthRepository, SetupToken
from tav.storage.config import SettingRepository, VariableRepository
from tav.storage.credentials import CredentialRepository
from tav.storage.db import Database
from tav.storage.executions import ExecutionRecord, ExecutionRepository, new_execution
from tav.storage.files import FileStore
from tav.storage.private import secure_data_dir
from tav.storage.triggers import TriggerStateRepository
from tav.storage.vectors import VectorStore
from tav.storage.workflows import StoredWorkflow, WorkflowRepository
from tav.storage.writer import ExecutionWriter
from tav.triggers import Host, SystemClock, TriggerManager
from tav.triggers.discovery import default_trigger_kinds
from tav.triggers.ports import TriggeredWorkflow

logger = logging.getLogger("tav.server")
STORED_ID = re.compile(r"^[0-9a-f]{32}$")
PRUNE_EVERY_S = 3600
PRUNE_FIRST_AFTER_S = 60
PLAN_CACHE_SIZE = 256
BUS_RETAIN_EVENTS = 1_000
"""Events of finished executions the server's bus keeps: only enough to bridge the moment
between an execution's end and its final batch being written; watchers of finished
executions replay them from the database."""


class StoredWorkflowLoader:
    """Sub-workflow refs: a stored workflow id; with ``file_refs`` (``tav run``) also a
    file path, relative to the calling workflow's file.

    A server never takes a ref for a path: its workflows are written by its users, and a
    path would let any editor run, and have an agent describe, any workflow file the
    server's process can read."""

    def __init__(self, workflows: WorkflowRepository, *, file_refs: bool = False) -> None:
        self.workflows = workflows
        self.files = FileWorkflowLoader() if file_refs else None

    async def load(self, ref: str, *, relative_to: str | None) -> tuple[Workflow, str]:
        if STORED_ID.match(ref):
            stored = await self.workflows.get(ref)
            if stored is None:
                raise NotFound(f"no stored workflow with id {ref!r}")
            return parse_workflow(stored.document, structure=False), f"workflow:{ref}"
        if self.files is None:
            raise NotFound(_not_stored(ref))
        return await self.files.load(ref, relative_to=relative_to)

    def problems(self, workflow: Workflow) -> list[Problem]:
        """Refs written into the document that ``load`` would refuse (a template's value
        is checked when the node runs)."""
        if self.files is not None:
            return []
        return [
            Problem(_not_stored(ref), node=node.id, field=field)
            for node in workflow.nodes
            for field, ref in _workflow_refs(node.type, node.params)
            if "{{" not in ref and not STORED_ID.match(ref)
        ]

    async def describe(self, ref: str) -> WorkflowDescription:
        """``WorkflowCatalog``: what an agent's tool tells the model about a workflow."""
        workflow, _ = await self.load(ref, relative_to=None)
        return WorkflowDescription(
            id=ref,
            name=workflow.name,
            description=workflow.description,
            input_schema=workflow.input_schema,
        )


def _not_stored(ref: str) -> str:
    return (
        f"sub-workflow {ref!r} is not a stored workflow id; "
        "file paths are only allowed with `tav run`"
    )


def _workflow_refs(node_type: str, params: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(field, ref)`` of the workflows a node names in its params."""
    if node_type in ("core.subworkflow", "core.map"):
        ref = params.get("workflow")
        if isinstance(ref, str):
            yield "params.workflow", ref
    elif node_type == "ai.agent" and isinstance(tools := params.get("tools"), list):
        for index, tool in enumerate(tools):
            ref = tool.get("workflow") if isinstance(tool, dict) else tool
            if isinstance(ref, str):
                field = f"params.tools.{index}" + (".workflow" if isinstance(tool, dict) else "")
                yield field, ref


@dataclass(frozen=True)
class StartedRun:
    """An execution ``Server.start_run`` started, with what it records.

    ``recorded`` is done once the execution is committed (recorded with what it did until
    then, see ``ExecutionWriter.record``); it fails if it could not be recorded, and the
    execution is then cancelled. ``record(result)`` is the finished execution exactly as
    the store gives it back (``ExecutionRepository.get``) once the writer has written it,
    built from memory: the stored fields are the ones recorded here, and everything else
    comes from the result the store keeps (as JSON: ``ExecutionRecord.to_json`` of the two
    is the same)."""

    handle: ExecutionHandle
    recorded: asyncio.Future[None]
    workflow: str
    workflow_id: str | None
    workflow_version: int | None
    mode: ExecutionMode
    input: Any
    """As given (JSON data: what is stored is its JSON)."""
    started_at: datetime
    retry_of: str | None = None

    def record(self, result: ExecutionResult) -> ExecutionRecord:
        return ExecutionRecord(
            execution_id=result.execution_id,
            workflow=self.workflow,
            workflow_id=self.workflow_id,
            workflow_version=self.workflow_version,
            status=result.status,
            mode=self.mode,
            parent_execution_id=None,
            retry_of=self.retry_of,
            error=result.error,
            started_at=self.started_at,
            finished_at=result.finished_at,
            duration_ms=result.duration_ms,
            input=self.input,
            output=result.output,
            nodes=result.nodes,
            last_seq=0,
        )


def _cancel_unless_recorded(recorded: asyncio.Future[None], handle: ExecutionHandle) -> None:
    if recorded.cancelled() or recorded.exception() is not None:
        handle.cancel()


class Server:
    def __init__(
        self,
        settings: Settings,
        *,
        registry: NodeRegistry | None = None,
        file_refs: bool = False,
    ) -> None:
        """``file_refs``: sub-workflow refs may be file paths (``tav run``); a server takes
        stored workflow ids only."""
        self.settings = settings
        self.db = Database(settings.resolved_database_url())
        self.writer = ExecutionWriter(self.db, on_lost=self._stop_unstored)
        self.executions = ExecutionRepository(self.db)
        self.workflows = WorkflowRepository(self.db)
        self.auth = AuthRepository(
            self.db,
            setup_token=SetupToken(settings.data_dir / SETUP_TOKEN_FILE),
            hash_concurrency=settings.password_hash_concurrency,
        )
        self.variables = VariableRepository(self.db)
        self.stored_settings = SettingRepository(self.db)
        self.vectors = VectorStore(self.db)
        self.files = FileStore(self.db, settings.data_dir / "files")
        secret_key = settings.secret_key.get_secret_value() if settings.secret_key else None
        self.keys = KeySource(settings.data_dir, secret_key)
        self.vault = Vault(self.keys.keys)
        self.credentials = CredentialService(CredentialRepository(self.db), self.vault)
        self.registry = registry or default_registry(settings.nodes_path)
        self.bus = InMemoryBus(BUS_RETAIN_EVENTS, sinks=[self.writer])
        # Every request of a node or a service client goes through the outbound policy.
        # (Its transport is made on the first request: it loads the CA bundle, ~30 ms
        # and some MB at every start, for a server that may never make one.)
        self.outbound = OutboundPolicy.from_settings(settings)
        self.http = outbound_client(self.outbound)
        cache_days = settings.ai_cache_max_age_days
        self.ai_cache = AICacheRepository(
            self.db, max_age=timedelta(days=cache_days) if cache_days is not None else None
        )
        self.provider_http = ProviderHttp(self.outbound)
        self.ai = AIServices(
            AIConfig.from_settings(settings),
            cache=self.ai_cache,
            redaction=self.vault,
            http=self.provider_http,
        )
        self.loader = StoredWorkflowLoader(self.workflows, file_refs=file_refs)
        self.executor = Executor(
            self.registry,
            bus=self.bus,
            store=self.writer,
            pools=Pools(settings.pools, default_limit=settings.pool_default_limit),
            loader=self.loader,
            services=replace(
                build_services(ServiceConfig.from_settings(settings), self.http),
                outbound=self.outbound,
                workflows=self.loader,
                vector_stores=self.vectors,
                text_splitter=RecursiveTextSplitter(),
                chat_models=self.ai,
                embeddings=self.ai,
                files=self.files,
                pdf_fonts=PdfFonts(tuple(str(path) for path in settings.pdf_font)),
            ),
            vars=settings.vars,
            secrets=self.credentials,
            template_limits=TemplateLimits.from_settings(settings),
        )
        self.triggers = TriggerManager(
            self.registry,
            self.workflows,
            Host(
                launcher=self,
                state=TriggerStateRepository(self.db),
                credentials=self.credentials,
                clock=SystemClock(),
                files=self.files,
            ),
            sync_every_s=settings.trigger_sync_s,
            kinds=default_trigger_kinds(settings.nodes_path),
        )
        self.running: dict[str, ExecutionHandle] = {}
        self.accepting = False
        self._background: set[asyncio.Task[Any]] = set()
        self._plans: OrderedDict[str, tuple[dict[str, Any], ExecutionPlan]] = OrderedDict()
        self._drain: asyncio.Future[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(
        self, *, resume: bool = True, prune: bool = True, triggers: bool = True
    ) -> None:
        secure_data_dir(self.settings.data_dir)
        await self.db.migrate()
        self.apply_settings(await self.stored_settings.all())
        redacting_logs.install(self.vault)
        try:
            await self.credentials.remember_all()
        except Exception as exc:  # a wrong key must not keep the server from starting
            logger.warning("cannot read the stored credentials: %s", exc)
        await self.settle_abandoned()
        self.writer.start()
        self.accepting = True
        if triggers:  # the active workflows' webhooks, schedules, subscriptions, pollers
            await self.triggers.start()
        if resume:
            await self.resume_unfinished()
        if prune:
            self._spawn(self._prune_forever())

    async def stop(self, *, timeout_s: float | None = None) -> None:
        """Stop taking runs, give running ones ``timeout_s`` to finish, and leave the rest
        to resume on the next start (nothing about them is recorded as cancelled)."""
        await self.drain(timeout_s=timeout_s)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.auth.settle()
        await self.http.aclose()
        await self.provider_http.aclose()
        await self.db.close()

    def drain(self, *, timeout_s: float | None = None) -> asyncio.Future[None]:
        """Begin shutting down (idempotent): no new runs; running executions get
        ``timeout_s`` (default: the ``shutdown_timeout_s`` setting) to finish; what is
        written then is what the next start resumes from."""
        self.accepting = False
        if self._drain is None:
            timeout = self.settings.shutdown_timeout_s if timeout_s is None else timeout_s
            self._drain = asyncio.ensure_future(self._wind_down(timeout))
        return self._drain

    async def _wind_down(self, timeout_s: float) -> None:
        await self.triggers.stop()
        pending = [asyncio.ensure_future(h.wait()) for h in self.running.values()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        await self.writer.close()
        # What the interrupted executions do from here (cancelled nodes, a cancelled end)
        # is neither stored nor shown to watchers: they go on after the next start.
        self.executor.bus = InMemoryBus()
        for handle in list(self.running.values()):
            handle.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- executions -----------------------------------------------------------------------

    def compile(self, document: Mapping[str, Any], *, source: str | None = None) -> ExecutionPlan:
        """Raises ``WorkflowInvalid`` with every problem.

        Plans of stored workflows (``source`` ``workflow:<id>``) are kept, keyed by their
        source and checked against the document, so a workflow run again and again is
        compiled once per version."""
        plan = self._kept(document, source)
        if plan is None:
            plan = self._compiled(document, source)
            self._keep(document, source, plan)
        return plan

    async def compile_off_loop(
        self, document: Mapping[str, Any], *, source: str | None = None
    ) -> ExecutionPlan:
        """``compile`` on a worker thread, unless the plan is kept: compiling takes about
        half a millisecond per template, a second for a document with 2,000 of them."""
        plan = self._kept(document, source)
        if plan is None:
            plan = await asyncio.to_thread(self._compiled, document, source)
            self._keep(document, source, plan)
        return plan

    def _kept(self, document: Mapping[str, Any], source: str | None) -> ExecutionPlan | None:
        cached = self._plans.get(source) if source else None
        if cached is None or cached[0] != document:
            return None
        self._plans.move_to_end(source)  # type: ignore[arg-type]
        return cached[1]

    def _compiled(self, document: Mapping[str, Any], source: str | None) -> ExecutionPlan:
        workflow = parse_workflow(dict(document), structure=False)
        plan = self.executor.compile(workflow, source=source)
        if problems := self.loader.problems(workflow):
            raise WorkflowInvalid(problems, source=source)
        return plan

    def _keep(self, document: Mapping[str, Any], source: str | None, plan: ExecutionPlan) -> None:
        if source and source.startswith("workflow:"):
            self._plans[source] = (dict(document), plan)
            if len(self._plans) > PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)

    async def run(
        self, document: Mapping[str, Any], input: Any = None, **options: Any
    ) -> ExecutionHandle:
        """Record and start an execution; returns once it is recorded (options as for
        ``start_run``)."""
        started = await self.start_run(document, input, **options)
        await started.recorded
        return started.handle

    async def start_run(
        self,
        document: Mapping[str, Any],
        input: Any = None,
        *,
        stored: StoredWorkflow | None = None,
        mode: ExecutionMode = ExecutionMode.API,
        reuse: Mapping[str, NodeResult] | None = None,
        execution_id: str | None = None,
        source: str | None = None,
        skip: frozenset[str] = frozenset(),
        retry_of: str | None = None,
    ) -> StartedRun:
        """Start an execution and have it recorded; returns at once, before the record is
        committed (``StartedRun.recorded``): the execution is recorded in the same
        transaction as the first things it does.

        ``source`` is where an ad-hoc document came from (a file path: sub-workflow refs
        are relative to it); a stored workflow's is its id."""
        if not self.accepting:
            raise RuntimeError("the server is shutting down")
        if stored:
            source = f"workflow:{stored.id}"
        plan = await self.compile_off_loop(document, source=source)
        execution_id = execution_id or uuid.uuid4().hex
        execution, data = new_execution(
            execution_id,
            workflow=plan.name,
            workflow_id=stored.id if stored else None,
            workflow_version=stored.version if stored else None,
            mode=mode,
            input=input,
            document=None if stored else dict(document),
            retry_of=retry_of,
            owner=owners.this_process() if mode is ExecutionMode.CLI else None,
        )
        global_vars = await self.global_vars()
        recorded = self.writer.record(execution, data)
        handle = self.executor.start(
            plan,
            input,
            execution_id=execution_id,
            reuse=reuse,
            vars=global_vars,
            started_at=execution["started_at"],
            skip=skip,
        )
        self._track(handle)
        recorded.add_done_callback(lambda done: _cancel_unless_recorded(done, handle))
        return StartedRun(
            handle=handle,
            recorded=recorded,
            workflow=execution["workflow_name"],
            workflow_id=execution["workflow_id"],
            workflow_version=execution["workflow_version"],
            mode=mode,
            input=input,
            started_at=execution["started_at"],
            retry_of=retry_of,
        )

    async def launch(
        self,
        workflow: TriggeredWorkflow,
        payload: Any,
        *,
        mode: ExecutionMode,
        skip: frozenset[str],
    ) -> StartedRun:
        """Start a stored workflow from one of its triggers (``tav.triggers.ports.Launcher``);
        ``skip``: its other trigger nodes."""
        assert isinstance(workflow, StoredWorkflow)  # what the manager got from the repository
        return await self.start_run(
            workflow.document, payload, stored=workflow, mode=mode, skip=skip
        )

    async def global_vars(self) -> dict[str, Any]:
        """``vars`` of every execution: TAV_VARS, overridden by variables set over the API."""
        return {**self.settings.vars, **await self.variables.all()}

    def _stop_unstored(self, execution_id: str) -> None:
        """The writer could not store this execution's updates (it records it as failed):
        it stops here too."""
        handle = self.running.get(execution_id)
        if handle is not None:
            handle.cancel()

    def _track(self, handle: ExecutionHandle) -> None:
        self.running[handle.execution_id] = handle
        handle.add_done_callback(lambda: self.running.pop(handle.execution_id, None))

    async def settle_abandoned(self) -> list[str]:
        """Fail the executions of ``tav run`` processes of this host that died before they
        finished (killed, say); returns their ids. A retry runs what they left."""
        gone = ErrorInfo(
            type=FailureKind.CRASHED,
            message="the `tav run` process running it stopped before it finished; "
            "retry it to run the rest",
        )
        abandoned = [
            execution_id
            for execution_id, owner in await self.executions.owned_unfinished()
            if owners.is_gone(owner)
        ]
        for execution_id in abandoned:
            await self.executions.mark(execution_id, ExecutionStatus.FAILED, gone)
        return abandoned

    async def resume_unfinished(self) -> list[str]:
        """Resume executions a dead process left queued or running; returns their ids.

        Sub-executions are not resumed: their parent's node runs them again, under a new
        id, so the interrupted ones are marked failed. Executions of ``tav run`` are left
        alone: that process may still be running them (``settle_abandoned`` settles those
        whose process is gone)."""
        crashed = ErrorInfo(
            type=FailureKind.CRASHED,
            message="the process running it stopped; its parent runs it again",
        )
        await self.executions.settle_orphans(crashed)
        resumed = []
        for record in await self.executions.unfinished(exclude_modes=(ExecutionMode.CLI,)):
            try:
                handle = await self._resume(record)
            except Exception as exc:
                logger.warning("cannot resume execution %s: %s", record.execution_id, exc)
                error = ErrorInfo(type=FailureKind.RESUME_FAILED, message=f"cannot resume: {exc}")
                await self.executions.mark(record.execution_id, ExecutionStatus.FAILED, error)
                continue
            resumed.append(handle.execution_id)
        return resumed

    async def _resume(self, record: ExecutionRecord) -> ExecutionHandle:
        document, source = await self._document_of(record)
        plan = await self.compile_off_loop(document, source=source)
        settled = {
            node_id: result
            for node_id, result in record.nodes.items()
            if result.status is not NodeStatus.CANCELLED and node_id in plan.nodes
        }
        # Nothing stored yet (not even ``execution.started``): start it over, from seq 1.
        resume = (
            Resume(results=settled, last_seq=record.last_seq, started_at=record.started_at)
            if record.last_seq
            else None
        )
        if resume is not None:
            self.writer.resuming(record.execution_id)
        handle = self.executor.start(
            plan,
            record.input,
            execution_id=record.execution_id,
            resume=resume,
            vars=await self.global_vars(),
        )
        self._track(handle)
        logger.info("resumed execution %s (%d settled nodes)", record.execution_id, len(settled))
        return handle

    async def _document_of(self, record: ExecutionRecord) -> tuple[dict[str, Any], str | None]:
        if record.workflow_id is not None and record.workflow_version is not None:
            version = await self.workflows.version(record.workflow_id, record.workflow_version)
            if version is not None:
                return version.document, f"workflow:{record.workflow_id}"
        document = await self.executions.document(record.execution_id)
        if document is None:
            raise NotFound("its workflow is no longer stored")
        return document, None

    # -- runtime settings -----------------------------------------------------------------

    def apply_settings(self, stored: Mapping[str, Any]) -> None:
        """Apply the runtime settings kept in the database (``RuntimeSettings``) over the
        environment's: pool limits at once, retention from the next prune. Stored values
        that no longer validate are logged and ignored rather than stopping the server."""
        known = {key: value for key, value in stored.items() if key in RuntimeSettings.model_fields}
        try:
            changes = RuntimeSettings.model_validate(known).model_dump(exclude_unset=True)
        except ValidationError as exc:
            logger.warning("ignoring the stored runtime settings: %s", exc)
            return
        pools = {**self.settings.pools, **changes.pop("pools", {})}
        self.settings = self.settings.model_copy(update=changes)
        self.executor.pools.set_limits(pools, default_limit=self.settings.pool_default_limit)
        self.ai.configure(AIConfig.from_settings(self.settings))

    # -- retention ------------------------------------------------------------------------

    async def prune(self) -> int:
        """Apply retention: executions (with their files) and AI answers past their age;
        returns how many executions went."""
        days = self.settings.retention_max_age_days
        removed = await self.executions.prune(
            max_age=timedelta(days=days) if days is not None else None,
            max_count=self.settings.retention_max_count,
        )
        if removed:
            await self.files.sweep()  # the files of pruned executions went with them
        answers = await self.ai_cache.prune(self.ai_cache.max_age) if self.ai_cache.max_age else 0
        if answers:
            logger.info("pruned %d cached model answers", answers)
        if removed or answers:
            await self.db.reclaim_space()
        return removed

    async def _prune_forever(self) -> None:
        await asyncio.sleep(PRUNE_FIRST_AFTER_S)  # not while starting up
        while True:
            try:
                removed = await self.prune()
                if removed:
                    logger.info("pruned %d executions", removed)
            except Exception:
                logger.exception("pruning executions failed")
            await asyncio.sleep(PRUNE_EVERY_S)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
