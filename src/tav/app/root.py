"""The composition root: every part of a TAV process, built from ``Settings``.

``build(settings)`` is the one place that constructs the database and its repositories,
the vault, the node registry, the bus, the outbound policy and the clients under it, the
AI services and their cache, the executor with the services it supplies to nodes
(``HostServices``), and the use-case services. ``tav serve`` (through
``tav.app.server.Server``), ``tav run`` (stored or ``--no-store``), ``tav.run_workflow``
and the queue's worker all start from it, so a workflow finds the same services wherever
it runs.

Building opens nothing: the database connects on first use and each HTTP client makes
its transport on its first request. ``Parts.aclose`` closes what was opened. Starting
(migrations, stored settings, resuming) is the lifecycle's job: ``tav.app.server`` for a
host that records its executions, ``tav.app.headless`` for one that does not.

``record`` decides where executions go. A recording host (``RecordingParts``: a server,
``tav run``, a worker) writes each one to the database as it runs (the writer is a sink
of the bus and the executor's store) and has the use cases that start, retry and arm
them. A host built with ``record=False`` (``tav run --no-store``, ``tav.run_workflow``)
keeps the execution in memory only; everything else still comes from the data dir:
credentials, variables, stored files, vector collections, the AI cache, stored workflows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from tav.ai import AIConfig, AIServices
from tav.ai.http import ProviderHttp
from tav.ai.text import RecursiveTextSplitter
from tav.app import topology
from tav.app.executions import Executions
from tav.app.loader import StoredWorkflowLoader
from tav.app.plans import Plans
from tav.app.queued import Queue, Relay
from tav.app.settings import RuntimeConfig
from tav.app.tools import Tools
from tav.app.users import Users
from tav.app.waits import Links, Waits
from tav.app.workflows import Workflows
from tav.collab.limits import Limits
from tav.collab.long_text import long_text_of
from tav.collab.rooms import Rooms
from tav.credentials import CredentialService, KeySource, Vault
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.pools import Pools, SharedPools
from tav.engine.template_budget import TemplateLimits
from tav.nodes.discovery import default_registry
from tav.nodes.host import HostServices, PdfFonts
from tav.nodes.outbound import OutboundPolicy, OutboundSession
from tav.nodes.outbound import client as outbound_client
from tav.nodes.registry import NodeRegistry
from tav.services import ServiceConfig, build_services
from tav.settings import Settings
from tav.storage.ai_cache import AICacheRepository
from tav.storage.auth import SETUP_TOKEN_FILE, AuthRepository, SetupToken
from tav.storage.collab import DraftRepository
from tav.storage.config import SettingRepository, VariableRepository
from tav.storage.credentials import CredentialRepository
from tav.storage.db import Database
from tav.storage.executions import ExecutionRepository
from tav.storage.files import FileStore
from tav.storage.invites import InviteRepository
from tav.storage.leadership import AdvisoryLock
from tav.storage.leases import LeaseRepository
from tav.storage.triggers import TriggerStateRepository
from tav.storage.users import UserRepository
from tav.storage.vectors import VectorStore
from tav.storage.waits import WaitRepository
from tav.storage.workflows import WorkflowRepository
from tav.storage.writer import ExecutionWriter
from tav.triggers import Host, SystemClock, TriggerManager
from tav.triggers.discovery import default_trigger_kinds
from tav.triggers.leadership import Leadership, process_name
from tav.triggers.webhook import WebhookRoutes

if TYPE_CHECKING:
    from tav.nodes.code import CodeJob
    from tav.nodes.context import Credential
    from tav.nodes.mcp import McpResult, McpTool
    from tav.sandbox.runner import SandboxRunner
    from tav.services.mcp import McpPool
    from tav.storage.limits import LimitHolds

BUS_RETAIN_EVENTS = 1_000
"""Events of finished executions a recording host's bus keeps: only enough to bridge the
moment between an execution's end and its final batch being written; watchers of
finished executions replay them from the database."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Storage:
    """The database, the repositories over it, and the vault."""

    db: Database
    executions: ExecutionRepository
    workflows: WorkflowRepository
    auth: AuthRepository
    users: UserRepository
    invites: InviteRepository
    variables: VariableRepository
    stored_settings: SettingRepository
    vectors: VectorStore
    files: FileStore
    keys: KeySource
    vault: Vault
    credentials: CredentialService
    limit_holds: LimitHolds | None = None
    """Queue mode: the places in pools and credentials' limits, shared by the processes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Parts(Storage):
    """What a host runs workflows with, built by ``build``."""

    registry: NodeRegistry
    bus: InMemoryBus
    outbound: OutboundPolicy
    """Every request of a node, a service client or a model provider goes through it."""
    http: httpx.AsyncClient
    """The client of the nodes and the service clients, under ``outbound``."""
    http_session: OutboundSession
    """The session of ``core.http_request``, under ``outbound``."""
    provider_http: ProviderHttp
    """The clients the model providers' SDKs send through, under ``outbound``."""
    ai_cache: AICacheRepository
    ai: AIServices
    loader: StoredWorkflowLoader
    executor: Executor
    plans: Plans
    settings_service: RuntimeConfig
    users_service: Users
    code: CodeSandbox
    """Runs the code of ``code.python`` nodes (``tav.sandbox``)."""
    mcp: McpConnections
    """Connections to MCP servers (``mcp.call_tool``, ``ai.agent``), per credential."""

    @property
    def settings(self) -> Settings:
        """The settings in force: the environment's, with the stored runtime settings over
        them once they are applied (``settings_service``)."""
        return self.settings_service.settings

    async def aclose(self) -> None:
        """Close what the parts opened: the HTTP clients and the database (after the
        writes of API key use still pending)."""
        await self.auth.settle()
        await self.http.aclose()
        await self.http_session.aclose()
        await self.provider_http.aclose()
        if self.limit_holds is not None:
            await self.limit_holds.aclose()
        await self.code.aclose()
        await self.mcp.aclose()
        await self.db.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingParts(Parts):
    """The parts of a host that records its executions: the writer, and the use cases
    that start executions and arm triggers."""

    writer: ExecutionWriter
    executions_service: Executions
    triggers: TriggerManager
    workflows_service: Workflows
    collab: Rooms
    """The live drafts of the workflows being edited together, and their rooms."""
    queue: Queue | None = None
    """Queue mode (``TAV_QUEUE_URL``): executions are published for workers to run."""
    waits: Waits | None = None
    """Executions that wait: their links, their decisions, their timers."""
    tools: Tools | None = None
    """The workflows offered as tools (the MCP server at /mcp)."""

    @property
    def webhooks(self) -> WebhookRoutes:
        """The webhook paths of the armed workflows, which the HTTP layer serves."""
        return self.triggers.webhooks


@overload
def build(
    settings: Settings,
    *,
    registry: NodeRegistry | None = None,
    file_refs: bool = False,
    record: Literal[True] = True,
    database_pool: int | None = None,
) -> RecordingParts: ...


@overload
def build(
    settings: Settings,
    *,
    registry: NodeRegistry | None = None,
    file_refs: bool = False,
    record: Literal[False],
    database_pool: int | None = None,
) -> Parts: ...


def build(
    settings: Settings,
    *,
    registry: NodeRegistry | None = None,
    file_refs: bool = False,
    record: bool = True,
    database_pool: int | None = None,
) -> Parts:
    """Every part of a host, from ``settings``.

    ``registry``: the node types (default: the built-ins, the ``tav.nodes`` entry points
    and ``TAV_NODES_PATH``). ``file_refs``: sub-workflow refs may be file paths
    (``tav run``); a server takes stored workflow ids only. ``record``: executions are
    written to the database as they run (``RecordingParts``), or kept in memory only.
    ``database_pool``: PostgreSQL connections the pool opens at most (default:
    ``TAV_DATABASE_POOL_SIZE``; a worker's follows from its concurrency,
    ``tav.app.connections``).

    Raises ``tav.app.topology.TopologyInvalid`` for settings that cannot run (queue mode
    on SQLite, say)."""
    topology.check(settings)
    db = Database(
        settings.resolved_database_url(), pool_size=database_pool or settings.database_pool_size
    )
    writer = ExecutionWriter(db) if record else None
    storage = _storage(settings, db)
    ai_cache = _ai_cache(settings, db)
    outbound = OutboundPolicy.from_settings(settings)
    # (Each client's transport is made on its first request: it loads the CA bundle,
    # ~30 ms and some MB at every start, for a process that may never make one.)
    http = outbound_client(outbound)
    http_session = OutboundSession(outbound)
    provider_http = ProviderHttp(outbound)
    ai = AIServices(
        AIConfig.from_settings(settings),
        cache=ai_cache,
        redaction=storage.vault,
        http=provider_http,
        shared=storage.limit_holds,
    )
    registry = registry or default_registry(settings.nodes_path)
    loader = StoredWorkflowLoader(storage.workflows, file_refs=file_refs)
    waits = _waits(settings, storage) if record else None
    code = CodeSandbox(settings)
    mcp = McpConnections(settings, outbound)
    services = replace(
        build_services(ServiceConfig.from_settings(settings), http),
        outbound=outbound,
        http_session=http_session,
        workflows=loader,
        vector_stores=storage.vectors,
        text_splitter=RecursiveTextSplitter(),
        chat_models=ai,
        embeddings=ai,
        files=storage.files,
        pdf_fonts=PdfFonts(tuple(str(path) for path in settings.pdf_font)),
        waits=waits,
        code=code,
        mcp=mcp,
    )
    relay = _relay(settings) if writer else None
    sinks = [sink for sink in (writer, relay) if sink is not None]
    bus = InMemoryBus(BUS_RETAIN_EVENTS, sinks=sinks) if writer else InMemoryBus()
    executor = _executor(settings, registry, services, storage, bus, writer, loader)
    plans = Plans(executor, refs=loader)
    runtime = RuntimeConfig(
        settings,
        stored=storage.stored_settings,
        pools=executor.pools,
        ai=ai,
        credentials=storage.credentials,
    )
    parts = Parts(
        **_fields(storage),
        registry=registry,
        bus=bus,
        outbound=outbound,
        http=http,
        http_session=http_session,
        provider_http=provider_http,
        ai_cache=ai_cache,
        ai=ai,
        loader=loader,
        executor=executor,
        plans=plans,
        settings_service=runtime,
        users_service=Users(storage.users, storage.invites, storage.auth),
        code=code,
        mcp=mcp,
    )
    if writer is None or waits is None:
        return parts
    return _recording(settings, parts, writer, relay, waits)


class CodeSandbox:
    """The code sandbox (``tav.sandbox``), made when code first runs: a host that runs
    none imports none of it, and starts no interpreter."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._runner: SandboxRunner | None = None

    async def run(self, job: CodeJob, log: Callable[[str], None]) -> Any:
        if self._runner is None:
            from tav.sandbox.config import SandboxConfig
            from tav.sandbox.runner import SandboxRunner

            self._runner = SandboxRunner(SandboxConfig.from_settings(self._settings))
        return await self._runner.run(job, log)

    async def aclose(self) -> None:
        """Stop the interpreters kept started."""
        if self._runner is not None:
            await self._runner.aclose()


class McpConnections:
    """MCP clients (``tav.services.mcp``), made on first use: a host that calls no MCP
    server imports none of the SDK. A stdio server runs in the code sandbox, and never
    sees the data dir."""

    def __init__(self, settings: Settings, outbound: OutboundPolicy) -> None:
        self._settings = settings
        self._outbound = outbound
        self._pool: McpPool | None = None

    async def list_tools(self, credential: Credential) -> list[McpTool]:
        return await self.pool().list_tools(credential)

    async def call_tool(
        self, credential: Credential, tool: str, arguments: Mapping[str, Any]
    ) -> McpResult:
        return await self.pool().call_tool(credential, tool, arguments)

    def pool(self) -> McpPool:
        if self._pool is None:
            from tav.sandbox.command import CommandSandbox, ServerLimits
            from tav.services.mcp import McpPool

            settings = self._settings
            limits = ServerLimits(
                max_memory_mb=settings.mcp_max_memory_mb,
                max_cpu_s=settings.mcp_max_cpu_s,
                max_processes=settings.mcp_max_processes,
            )
            launcher = CommandSandbox(
                bwrap=settings.code_bwrap,
                unsafe_no_sandbox=settings.code_unsafe_no_sandbox,
                private=(str(settings.data_dir),),
                limits=limits,
            )
            self._pool = McpPool(launcher=launcher, outbound=self._outbound)
        return self._pool

    async def aclose(self) -> None:
        """Close the connections, and stop the stdio servers."""
        if self._pool is not None:
            await self._pool.aclose()


def _fields(parts: Storage) -> dict[str, Any]:
    """The fields of ``parts`` by name (not ``dataclasses.asdict``: it would copy them)."""
    return {field.name: getattr(parts, field.name) for field in fields(parts)}


def _storage(settings: Settings, db: Database) -> Storage:
    secret_key = settings.secret_key.get_secret_value() if settings.secret_key else None
    keys = KeySource(settings.data_dir, secret_key)
    vault = Vault(keys.keys)
    auth = AuthRepository(
        db,
        setup_token=SetupToken(settings.data_dir / SETUP_TOKEN_FILE),
        hash_concurrency=settings.password_hash_concurrency,
    )
    return Storage(
        limit_holds=_limit_holds(settings, db) if topology.queue_mode(settings) else None,
        db=db,
        executions=ExecutionRepository(db),
        workflows=WorkflowRepository(db),
        auth=auth,
        users=UserRepository(db, auth),
        invites=InviteRepository(db),
        variables=VariableRepository(db),
        stored_settings=SettingRepository(db),
        vectors=VectorStore(db),
        files=FileStore(db, settings.data_dir / "files"),
        keys=keys,
        vault=vault,
        credentials=CredentialService(CredentialRepository(db), vault),
    )


def _limit_holds(settings: Settings, db: Database) -> LimitHolds:
    """Queue mode: pools and credentials' limits counted across the processes."""
    from tav.storage.limits import LimitHolds

    return LimitHolds(db, holder=process_name(), lease_s=settings.queue_lease_s)


def _waits(settings: Settings, storage: Storage) -> Waits:
    """Durable waits, with links under the first public origin (else where it listens)."""
    base = settings.public_origins[0] if settings.public_origins else None
    if base is None:
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        base = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"
    keys = storage.keys
    links = Links(key=lambda: keys.texts()[0].encode(), base_url=base)
    return Waits(WaitRepository(storage.db), links)


def _ai_cache(settings: Settings, db: Database) -> AICacheRepository:
    days = settings.ai_cache_max_age_days
    return AICacheRepository(db, max_age=timedelta(days=days) if days is not None else None)


def _executor(
    settings: Settings,
    registry: NodeRegistry,
    services: HostServices,
    storage: Storage,
    bus: InMemoryBus,
    writer: ExecutionWriter | None,
    loader: StoredWorkflowLoader,
) -> Executor:
    shared = storage.limit_holds
    pools = (
        Pools(settings.pools, default_limit=settings.pool_default_limit)
        if shared is None
        else SharedPools(settings.pools, default_limit=settings.pool_default_limit, shared=shared)
    )
    return Executor(
        registry,
        bus=bus,
        store=writer,
        pools=pools,
        loader=loader,
        services=services,
        vars=settings.vars,
        secrets=storage.credentials,
        template_limits=TemplateLimits.from_settings(settings),
    )


def _recording(
    settings: Settings, parts: Parts, writer: ExecutionWriter, relay: Relay | None, waits: Waits
) -> RecordingParts:
    """``parts`` with the writer and the use cases that record executions and arm
    triggers."""
    queue = _queue(settings, parts, relay) if topology.queue_mode(settings) else None
    executions = Executions(
        executions=parts.executions,
        workflows=parts.workflows,
        writer=writer,
        executor=parts.executor,
        bus=relay or parts.bus,  # queue mode: workers' events come over the relay
        plans=parts.plans,
        files=parts.files,
        variables=parts.variables,
        vars=settings.vars,
        keep_default=lambda: parts.settings.keep_successes,
        queue=queue,
    )
    writer.on_lost = executions.stop  # an execution whose updates could not be stored
    executions.waits, waits.executions = waits, executions
    leadership = None if parts.db.is_sqlite else _leadership(settings, parts.db)
    triggers = TriggerManager(
        parts.registry,
        parts.workflows,
        Host(
            launcher=executions,
            state=TriggerStateRepository(parts.db),
            credentials=parts.credentials,
            clock=SystemClock(),
            files=parts.files,
        ),
        sync_every_s=settings.trigger_sync_s,
        kinds=default_trigger_kinds(settings.nodes_path),
        leadership=leadership,
        schedule_late_s=settings.schedule_late_s,
    )
    collab = _collab(settings, parts)
    return RecordingParts(
        **_fields(parts),
        writer=writer,
        executions_service=executions,
        triggers=triggers,
        workflows_service=Workflows(parts.workflows, triggers, parts.plans, drafts=collab),
        collab=collab,
        queue=queue,
        waits=waits,
        tools=Tools(parts.workflows, executions, waits, timeout_s=settings.mcp_call_timeout_s),
    )


def _leadership(settings: Settings, db: Database) -> Leadership:
    """One trigger leader among the API processes of a PostgreSQL database."""
    check_s = settings.trigger_leader_check_s
    lock = AdvisoryLock(
        db, name=process_name(), check_s=check_s, timeout_s=settings.trigger_leader_timeout_s
    )
    return Leadership(lock, retry_s=check_s)


def _relay(settings: Settings) -> Relay | None:
    """Queue mode with a Redis broker: live events between the processes."""
    url = settings.queue_url or ""
    if not url.startswith(("redis://", "rediss://")):
        return None
    from tav.broker.relay import EventRelay

    return EventRelay(url)


def _queue(settings: Settings, parts: Parts, relay: Relay | None) -> Queue:
    """Queue mode's parts; Celery is imported here only, never in a single process."""
    from tav.broker.celery_app import make_app
    from tav.broker.publisher import Publisher

    assert settings.queue_url is not None
    timeout = settings.queue_publish_timeout_s
    publisher = Publisher(
        make_app(settings.queue_url, publish_timeout_s=timeout), timeout_s=timeout
    )
    leases = LeaseRepository(parts.db, lease_s=settings.queue_lease_s)
    return Queue(leases, publisher, parts.executions, relay)


def _collab(settings: Settings, parts: Parts) -> Rooms:
    limits = Limits(
        max_message_bytes=settings.collab_max_message_bytes,
        max_messages_per_s=settings.collab_max_messages_per_s,
        max_bytes_per_s=settings.collab_max_bytes_per_s,
        max_peers=settings.collab_max_peers,
        max_rooms=settings.collab_max_rooms,
        flush_s=settings.collab_flush_s,
        idle_s=settings.collab_idle_s,
    )
    relay = None
    if topology.queue_mode(settings):  # the rooms of several API processes, in touch
        from tav.storage.collab_relay import DraftRelay

        relay = DraftRelay(parts.db)
    rooms = Rooms(
        store=DraftRepository(parts.db, relay),
        workflows=parts.workflows,
        long_text=long_text_of(parts.registry),
        limits=limits,
        relay=relay,
    )
    parts.users_service.on_disabled(rooms.user_disabled)  # their connections close at once
    return rooms
