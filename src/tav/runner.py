"""Running a workflow from Python: ``tav.run_workflow`` and ``tav.run_workflow_sync``.

This is a composition root: it builds a node registry and an executor from ``Settings``
and hands them a workflow. Hosts that run many workflows build their own ``Executor``
once and reuse it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from tav.core.results import ExecutionResult
from tav.core.workflow import Workflow, parse_workflow
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.loader import load_workflow_file
from tav.engine.pools import Pools
from tav.engine.ports import EventBus, ExecutionStore
from tav.engine.template_budget import TemplateLimits
from tav.nodes import outbound
from tav.nodes.discovery import default_registry
from tav.nodes.host import HostServices, PdfFonts
from tav.nodes.outbound import OutboundPolicy
from tav.nodes.registry import NodeRegistry
from tav.services import ServiceConfig, build_services
from tav.settings import Settings

WorkflowSource = Workflow | Mapping[str, Any] | str | Path


def build_executor(
    settings: Settings | None = None,
    *,
    registry: NodeRegistry | None = None,
    bus: EventBus | None = None,
    store: ExecutionStore | None = None,
    http: httpx.AsyncClient | None = None,
    services: HostServices | None = None,
) -> Executor:
    """An executor configured from settings (``TAV_*`` environment variables).

    Its services are ``services`` when given; else, with ``http`` (``http_client`` makes
    one under the settings' outbound policy), that client and the clients of the service
    nodes over it (``tav.services``: mail, chat, MQTT, webhooks), the settings'
    ``OutboundPolicy`` and PDF fonts. Workflows whose nodes need a service it lacks are
    refused when they compile."""
    settings = settings or Settings()
    return Executor(
        registry or default_registry(settings.nodes_path),
        bus=bus or InMemoryBus(),
        store=store,
        pools=Pools(settings.pools, default_limit=settings.pool_default_limit),
        services=services if services is not None else _settings_services(settings, http),
        vars=settings.vars,
        template_limits=TemplateLimits.from_settings(settings),
    )


def _settings_services(settings: Settings, http: httpx.AsyncClient | None) -> HostServices:
    """What a host without storage supplies: the outbound policy and the PDF fonts of
    ``settings``, and with ``http``, the clients of the service nodes over it."""
    found = HostServices()
    if http is not None:
        found = build_services(ServiceConfig.from_settings(settings), http)
    return replace(
        found,
        outbound=OutboundPolicy.from_settings(settings),
        pdf_fonts=PdfFonts(tuple(str(path) for path in settings.pdf_font)),
    )


def http_client(settings: Settings | None = None) -> httpx.AsyncClient:
    """The client requests made for workflows go through, under the settings' outbound
    policy (``TAV_OUTBOUND_*``)."""
    return outbound.client(OutboundPolicy.from_settings(settings or Settings()))


def load(workflow: WorkflowSource) -> tuple[Workflow, str | None]:
    """A workflow from a model, a document dict, or a file path."""
    if isinstance(workflow, Workflow):
        return workflow, None
    if isinstance(workflow, Mapping):
        return parse_workflow(dict(workflow), structure=False), None
    path = Path(workflow)
    return load_workflow_file(path), str(path.resolve())


async def run_workflow(
    workflow: WorkflowSource,
    input: Any = None,
    *,
    executor: Executor | None = None,
    settings: Settings | None = None,
) -> ExecutionResult:
    """Run a workflow to its end and return its result.

    Raises ``WorkflowInvalid`` (listing every problem) if it cannot run.
    """
    document, source = load(workflow)
    if executor is not None:
        return await executor.execute(executor.compile(document, source=source), input)
    async with http_client(settings) as client:
        own = build_executor(settings, http=client)
        return await own.execute(own.compile(document, source=source), input)


def run_workflow_sync(
    workflow: WorkflowSource, input: Any = None, *, settings: Settings | None = None
) -> ExecutionResult:
    """``run_workflow`` for code that is not async."""
    return asyncio.run(run_workflow(workflow, input, settings=settings))
