"""The long-running side of TAV Engine: database, writer, executor, running executions.

``Server`` is a composition root shared by ``tav serve`` (the HTTP API) and by ``tav run``
(which stores its execution in the data dir too). It builds the parts and the use-case
services (``tav.app``: ``executions_service``, ``workflows_service``, ``settings_service``)
that the API and the CLI call; it resumes at start what a dead process left unfinished,
prunes old executions, and shuts down so that whatever it could not finish resumes on the
next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from tav.ai import AIConfig, AIServices
from tav.ai.http import ProviderHttp
from tav.ai.text import RecursiveTextSplitter
from tav.app.executions import Executions
from tav.app.plans import Plans
from tav.app.settings import RuntimeConfig
from tav.app.workflows import Workflows
from tav.core.errors import NotFound, Problem
from tav.core.workflow import Workflow, parse_workflow
from tav.credentials import CredentialService, KeySource, Vault
from tav.credentials import logs as redacting_logs
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.loader import FileWorkflowLoader
from tav.engine.pools import Pools
from tav.engine.template_budget import TemplateLimits
from tav.nodes.ai import WorkflowDescription
from tav.nodes.discovery import default_registry
from tav.nodes.host import PdfFonts
from tav.nodes.outbound import OutboundPolicy
from tav.nodes.outbound import client as outbound_client
from tav.nodes.registry import NodeRegistry
from tav.services import ServiceConfig, build_services
from tav.settings import Settings
from tav.storage.ai_cache import AICacheRepository
from tav.storage.auth import SETUP_TOKEN_FILE, AuthRepository, SetupToken
from tav.storage.config import SettingRepository, VariableRepository
from tav.storage.credentials import CredentialRepository
from tav.storage.db import Database
from tav.storage.executions import ExecutionRepository
from tav.storage.files import FileStore
from tav.storage.private import secure_data_dir
from tav.storage.triggers import TriggerStateRepository
from tav.storage.vectors import VectorStore
from tav.storage.workflows import STORED_ID, WorkflowRepository
from tav.storage.writer import ExecutionWriter
from tav.triggers import Host, SystemClock, TriggerManager
from tav.triggers.discovery import default_trigger_kinds

logger = logging.getLogger("tav.server")
PRUNE_EVERY_S = 3600
PRUNE_FIRST_AFTER_S = 60
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
        self.db = Database(settings.resolved_database_url())
        # The writer stops an execution whose updates it could not store.
        self.writer = ExecutionWriter(self.db, on_lost=lambda id: self.executions_service.stop(id))
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
        self.plans = Plans(self.executor, refs=self.loader)
        self.settings_service = RuntimeConfig(
            settings,
            stored=self.stored_settings,
            pools=self.executor.pools,
            ai=self.ai,
            credentials=self.credentials,
        )
        self.executions_service = Executions(
            executions=self.executions,
            workflows=self.workflows,
            writer=self.writer,
            executor=self.executor,
            bus=self.bus,
            plans=self.plans,
            files=self.files,
            variables=self.variables,
            vars=settings.vars,
        )
        self.triggers = TriggerManager(
            self.registry,
            self.workflows,
            Host(
                launcher=self.executions_service,
                state=TriggerStateRepository(self.db),
                credentials=self.credentials,
                clock=SystemClock(),
                files=self.files,
            ),
            sync_every_s=settings.trigger_sync_s,
            kinds=default_trigger_kinds(settings.nodes_path),
        )
        self.webhooks = self.triggers.webhooks
        """The webhook paths of the armed workflows, which the HTTP layer serves."""
        self.workflows_service = Workflows(self.workflows, self.triggers, self.plans)
        self._background: set[asyncio.Task[Any]] = set()
        self._drain: asyncio.Future[None] | None = None

    @property
    def settings(self) -> Settings:
        """The settings in force: the environment's, with the stored runtime settings over
        them (``settings_service``)."""
        return self.settings_service.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self.settings_service.settings = settings

    # -- lifecycle ------------------------------------------------------------------------

    async def start(
        self, *, resume: bool = True, prune: bool = True, triggers: bool = True
    ) -> None:
        secure_data_dir(self.settings.data_dir)
        await self.db.migrate()
        self.settings_service.apply(await self.stored_settings.all())
        redacting_logs.install(self.vault)
        try:
            await self.credentials.remember_all()
        except Exception as exc:  # a wrong key must not keep the server from starting
            logger.warning("cannot read the stored credentials: %s", exc)
        await self.executions_service.settle_abandoned()
        self.writer.start()
        self.executions_service.accepting = True
        if triggers:  # the active workflows' webhooks, schedules, subscriptions, pollers
            await self.triggers.start()
        if resume:
            await self.executions_service.resume_unfinished()
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
        self.executions_service.accepting = False
        if self._drain is None:
            timeout = self.settings.shutdown_timeout_s if timeout_s is None else timeout_s
            self._drain = asyncio.ensure_future(self._wind_down(timeout))
        return self._drain

    async def _wind_down(self, timeout_s: float) -> None:
        await self.triggers.stop()
        running = self.executions_service.running
        pending = [asyncio.ensure_future(h.wait()) for h in running.values()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        await self.writer.close()
        # What the interrupted executions do from here (cancelled nodes, a cancelled end)
        # is neither stored nor shown to watchers: they go on after the next start.
        self.executor.bus = InMemoryBus()
        for handle in list(running.values()):
            handle.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

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
