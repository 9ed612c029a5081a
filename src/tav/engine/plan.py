"""Compile a workflow into an immutable ``ExecutionPlan``, finding every problem first.

``compile_plan`` checks everything that can be known before running — node types, params,
ports, templates, references, the host services each node requires, the pools nodes name
— and raises ``WorkflowInvalid`` with every problem located.
The plan holds, per node, what the executor needs and nothing it must recompute: the node
instance, migrated params (validated once when they hold no templates), incoming edges per
port in document order, and retry/timeout/error settings.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from tav.core.errors import NotFound, Problem, WorkflowInvalid
from tav.core.workflow import (
    ERROR_PORT,
    NodeDef,
    OnError,
    RetryPolicy,
    Workflow,
    check_structure,
)
from tav.engine import templates
from tav.engine.readiness import ReadyGraph
from tav.engine.template_budget import DEFAULT_LIMITS, TemplateLimits
from tav.nodes.base import Node, Port
from tav.nodes.host import WAITS, HostServices, missing
from tav.nodes.registry import NodeRegistry

NO_RETRY = RetryPolicy(max_attempts=1, backoff_s=0, jitter=False)
_NONE: Mapping[str, tuple[Source, ...]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Source:
    """Where an incoming edge comes from."""

    node: str
    port: str


@dataclass(frozen=True, slots=True)
class PlannedNode:
    id: str
    definition: NodeDef
    node_type: type[Node]
    instance: Node
    params: Mapping[str, Any]
    """Params as written (migrated to the current type version), templates unrendered.
    Plans are shared by executions and never changed: treat every mapping as read-only
    (plain dicts rather than MappingProxyType keep large plans light)."""
    static_params: BaseModel | None
    """The validated params when they hold no template; rendered per run otherwise."""
    incoming: Mapping[str, tuple[Source, ...]]
    """Incoming edges by input port, in the document's edge order."""
    required_ports: frozenset[str]
    many_ports: frozenset[str]
    retry: RetryPolicy
    timeout_s: float | None
    on_error: OnError
    pin: Mapping[str, Any] | None
    pool: str | None
    """The pool the node runs in: its own (``pool`` in the document), else its type's."""


@dataclass(frozen=True)
class ExecutionPlan:
    workflow: Workflow
    nodes: Mapping[str, PlannedNode]
    predecessors: Mapping[str, frozenset[str]]
    output_node: str | None
    source: str | None = None
    """Where the workflow came from (a file path or a stored id); sub-workflow refs are
    resolved relative to it."""
    vars: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.workflow.name

    @functools.cached_property
    def waits(self) -> bool:
        """Whether a node of it may park (its type requires ``WAITS``): its runs as a
        sub-workflow are then executions of their own, as only a stored one can wait."""
        return any(WAITS in node.node_type.requires for node in self.nodes.values())

    @functools.cached_property
    def ready_graph(self) -> ReadyGraph:
        """The dependency graph as each execution's ``Readiness`` reads it."""
        return ReadyGraph.of(self.predecessors)


def compile_plan(
    workflow: Workflow,
    registry: NodeRegistry,
    *,
    source: str | None = None,
    limits: TemplateLimits = DEFAULT_LIMITS,
    services: HostServices | None = None,
    pools: Collection[str] | None = None,
) -> ExecutionPlan:
    """Compile ``workflow``; raise ``WorkflowInvalid`` with every problem if it cannot run.

    ``limits`` caps the templates of the document (count and length), checked before any
    is compiled: compiling one takes about half a millisecond. ``services``: what the host
    that will run the plan supplies; a node whose type ``requires`` a service it lacks is
    a problem (``None``: not checked). ``pools``: the pools the host has a limit for; a
    node naming another pool (``pool``) than these and its workflow's node types' pools
    is a problem (``None``: not checked)."""
    compiler = _Compiler(workflow, registry, limits, services, pools)
    plan = compiler.compile(source)
    if compiler.problems:
        raise WorkflowInvalid(compiler.problems, source=source)
    assert plan is not None
    return plan


def validate(
    workflow: Workflow,
    registry: NodeRegistry,
    *,
    limits: TemplateLimits = DEFAULT_LIMITS,
    services: HostServices | None = None,
    pools: Collection[str] | None = None,
) -> list[Problem]:
    """Every problem that would stop ``workflow`` from running (on a host that supplies
    ``services`` and has ``pools``, when given); empty when it is valid."""
    compiler = _Compiler(workflow, registry, limits, services, pools)
    compiler.compile(None)
    return compiler.problems


def migrate_params(node_type: type[Node], params: dict[str, Any], version: int) -> dict[str, Any]:
    """Params written for ``version`` of ``node_type``, upgraded to its current version.

    A type without migrations changed behaviour, not params: its params pass unchanged.
    """
    for step in range(version, node_type.spec.version):
        migration = node_type.migrations.get(step)
        if migration is not None:
            params = migration(dict(params))
    return params


def upgrade_workflow(workflow: Workflow, registry: NodeRegistry) -> Workflow:
    """The same workflow with every node's params migrated and its version recorded.

    Nodes the installed types cannot upgrade (unknown type, saved with a newer version)
    are left as written, for ``compile_plan`` to report.
    """
    nodes = [_upgraded(node, registry) for node in workflow.nodes]
    return workflow.model_copy(update={"nodes": nodes})


def _upgraded(node: NodeDef, registry: NodeRegistry) -> NodeDef:
    try:
        node_type = registry.get(node.type)
    except NotFound:  # unknown or unavailable: compile_plan reports it on the node
        return node
    current = node_type.spec.version
    version = node.version or current
    if version > current:
        return node
    params = migrate_params(node_type, node.params, version)
    return node.model_copy(update={"params": params, "version": current})


class _Compiler:
    def __init__(
        self,
        workflow: Workflow,
        registry: NodeRegistry,
        limits: TemplateLimits,
        services: HostServices | None,
        pools: Collection[str] | None,
    ) -> None:
        self.workflow = workflow
        self.registry = registry
        self.limits = limits
        self.services = services
        self.pools = pools
        self.problems: list[Problem] = check_structure(workflow)
        self.types: dict[str, type[Node]] = {}
        self.params: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, list[tuple[str, str]]] = {}
        """Per node, the templates its params render: ``(path, source)``."""
        self.templates_checked = True
        """False when the document has more templates than allowed: none is compiled."""
        self.models: dict[str, BaseModel | None] = {}
        self.port_sets: dict[type[Node], tuple[frozenset[str], frozenset[str]]] = {}

    def compile(self, source: str | None) -> ExecutionPlan | None:
        for node in self.workflow.nodes:
            self._migrate_node(node)
        self._check_template_limits()
        for node in self.workflow.nodes:
            self._check_node(node)
        self._check_counts()
        self._check_pools()
        incoming, predecessors = self._check_edges()
        self._check_references(predecessors)
        if self.problems:
            return None
        planned = {
            node.id: self._plan_node(node, incoming[node.id]) for node in self.workflow.nodes
        }
        outputs = [n.id for n in self.workflow.nodes if n.type == "core.output"]
        return ExecutionPlan(
            workflow=self.workflow,
            nodes=MappingProxyType(planned),
            predecessors=MappingProxyType({k: frozenset(v) for k, v in predecessors.items()}),
            output_node=outputs[0] if outputs else None,
            source=source,
            vars=MappingProxyType(dict(self.workflow.vars)),
        )

    def _problem(self, message: str, **where: Any) -> None:
        self.problems.append(Problem(message, **where))

    def _migrate_node(self, node: NodeDef) -> None:
        try:
            node_type = self.registry.get(node.type)
        except NotFound as exc:
            self._problem(str(exc), node=node.id, field="type")
            return
        self.types[node.id] = node_type
        self._check_requirements(node.id, node_type)
        params = self._migrated(node, node_type)
        if params is None:
            return
        self.params[node.id] = params
        self.templates[node.id] = [
            (path, source)
            for path, source in templates.template_strings(params, "params")
            if path.split(".")[1].split("[")[0] not in node_type.raw_params
        ]

    def _check_requirements(self, node_id: str, node_type: type[Node]) -> None:
        if self.services is None or not node_type.requires:
            return
        lacking = missing(node_type.requires, self.services)
        if lacking:
            needs = " and ".join(filter(None, [", ".join(lacking[:-1]), lacking[-1]]))
            # Located on the node: shown as "node 'ask': needs chat models, ...".
            self._problem(f"needs {needs}, which this host does not provide", node=node_id)

    def _check_template_limits(self) -> None:
        found = [source for sources in self.templates.values() for _, source in sources]
        size = sum(map(len, found))
        if len(found) > self.limits.max_templates:
            self._problem(
                f"too many templates: {len(found)} found, at most "
                f"{self.limits.max_templates} per workflow"
            )
        elif size > self.limits.max_template_bytes:
            self._problem(
                f"templates too long: {size} characters of template text found, at most "
                f"{self.limits.max_template_bytes} per workflow"
            )
        else:
            return
        self.templates_checked = False

    def _check_node(self, node: NodeDef) -> None:
        params = self.params.get(node.id)
        if params is None:
            return
        self.models[node.id] = self._check_params(node, self.types[node.id], params)
        if node.pin is not None:
            self._check_pin(node.id, node.pin)

    def _check_pin(self, node_id: str, pin: Mapping[str, Any]) -> None:
        ports = self._output_ports(node_id)
        if ports is None:
            return
        for port in pin:
            if port not in ports:
                have = ", ".join(ports) or "none"
                self._problem(
                    f"no output port {port!r} to pin (outputs: {have})", node=node_id, field="pin"
                )

    def _migrated(self, node: NodeDef, node_type: type[Node]) -> dict[str, Any] | None:
        current = node_type.spec.version
        version = node.version or current
        if version > current:
            self._problem(
                f"saved with version {version} of {node.type}, but only version {current} "
                "is installed",
                node=node.id,
                field="version",
            )
            return None
        try:
            return migrate_params(node_type, node.params, version)
        except Exception as exc:
            self._problem(
                f"params of version {version} cannot be upgraded: {exc}",
                node=node.id,
                field="params",
            )
            return None

    def _check_params(
        self, node: NodeDef, node_type: type[Node], params: dict[str, Any]
    ) -> BaseModel | None:
        for path, source in self.templates[node.id] if self.templates_checked else ():
            error = templates.syntax_error(source)
            if error:
                self._problem(error, node=node.id, field=path)
        try:
            return node_type.Params.model_validate(params)
        except ValidationError as exc:
            for details in exc.errors(include_url=False):
                if not _templated_at(params, details["loc"]):
                    field = ".".join(["params", *(str(p) for p in details["loc"])])
                    missing = details["type"] == "missing"
                    message = "required param is missing" if missing else details["msg"]
                    self._problem(message, node=node.id, field=field)
            return None

    def _output_ports(self, node_id: str) -> dict[str, Port] | None:
        """Output ports of a node, or None when they depend on params not known yet."""
        node_type = self.types[node_id]
        model = self.models.get(node_id)
        dynamic = node_type.output_ports.__func__ is not Node.output_ports.__func__  # type: ignore[attr-defined]
        if model is None and dynamic:
            return None
        return node_type.output_ports(model)

    def _check_counts(self) -> None:
        counts: dict[str, list[str]] = defaultdict(list)
        for node in self.workflow.nodes:
            counts[node.type].append(node.id)
        for type_id, ids in counts.items():
            limit = self.types[ids[0]].max_per_workflow if ids[0] in self.types else None
            if limit is not None and len(ids) > limit:
                self._problem(
                    f"at most {limit} {type_id} node(s) per workflow; found {', '.join(ids)}",
                    node=ids[limit],
                    field="type",
                )

    def _check_pools(self) -> None:
        """A node's own pool must be one the host has a limit for, or the pool of a node
        type of the workflow: a misspelt name would otherwise be a new pool of its own."""
        if self.pools is None:
            return
        known = set(self.pools) | {t.pool for t in self.types.values() if t.pool is not None}
        for node in self.workflow.nodes:
            if node.pool is not None and node.pool not in known:
                have = ", ".join(sorted(known)) or "none"
                self._problem(
                    f"unknown pool {node.pool!r} (pools: {have}); set its limit in the "
                    "pools setting first",
                    node=node.id,
                    field="pool",
                )

    def _check_edges(self) -> tuple[dict[str, dict[str, list[Source]]], dict[str, set[str]]]:
        incoming: dict[str, dict[str, list[Source]]] = {
            n.id: defaultdict(list) for n in self.workflow.nodes
        }
        predecessors: dict[str, set[str]] = {n.id: set() for n in self.workflow.nodes}
        for index, edge in enumerate(self.workflow.edges):
            src, dst = edge.source_node, edge.target_node
            if src in predecessors and dst in predecessors:
                # Even when a type is unknown, so templates that read across it are judged
                # by the graph as written rather than reported as not upstream.
                predecessors[dst].add(src)
            if src not in self.types or dst not in self.types:
                continue
            self._check_source_port(index, src, edge.source_port)
            inputs = self.types[dst].inputs
            if edge.target_port not in inputs:
                have = ", ".join(inputs) or "none"
                self._problem(
                    f"node '{dst}' ({self.types[dst].spec.type}) has no input port "
                    f"{edge.target_port!r} (inputs: {have})",
                    edge=index,
                    field="to",
                )
            incoming[dst][edge.target_port].append(Source(src, edge.source_port))
        return incoming, predecessors

    def _check_source_port(self, index: int, node_id: str, port: str) -> None:
        if port == ERROR_PORT:
            if self.workflow.node(node_id).on_error != "branch":
                self._problem(
                    f"edge from '{node_id}:error' needs on_error: branch on node '{node_id}'",
                    edge=index,
                    field="from",
                )
            return
        ports = self._output_ports(node_id)
        if ports is not None and port not in ports:
            have = ", ".join(ports) or "none"
            self._problem(
                f"node '{node_id}' ({self.types[node_id].spec.type}) has no output port "
                f"{port!r} (outputs: {have})",
                edge=index,
                field="from",
            )

    def _check_references(self, predecessors: dict[str, set[str]]) -> None:
        if not self.templates_checked:
            return
        for node in self.workflow.nodes:
            for path, source in self.templates.get(node.id, ()):
                if templates.syntax_error(source):
                    continue
                for ref in sorted(templates.referenced_nodes(source)):
                    if ref not in predecessors:
                        self._problem(
                            f"template reads unknown node '{ref}'", node=node.id, field=path
                        )
                    elif not _is_upstream(predecessors, node.id, ref):
                        self._problem(
                            f"template reads node '{ref}', which is not upstream of "
                            f"'{node.id}': its outputs may not exist yet",
                            node=node.id,
                            field=path,
                        )

    def _plan_node(self, node: NodeDef, incoming: Mapping[str, list[Source]]) -> PlannedNode:
        node_type = self.types[node.id]
        params = self.params[node.id]
        required, many = self._port_sets(node_type)
        templated = bool(self.templates[node.id])
        return PlannedNode(
            id=node.id,
            definition=node,
            node_type=node_type,
            instance=node_type(),
            params=params,
            static_params=None if templated else self.models[node.id],
            incoming={port: tuple(srcs) for port, srcs in incoming.items()} if incoming else _NONE,
            required_ports=required,
            many_ports=many,
            retry=node.retry or node_type.default_retry or NO_RETRY,
            timeout_s=node.timeout_s,
            on_error=node.on_error,
            pin=dict(node.pin) if node.pin is not None else None,
            pool=node.pool or node_type.pool,
        )

    def _port_sets(self, node_type: type[Node]) -> tuple[frozenset[str], frozenset[str]]:
        """Required and ``many`` input ports of a type, shared by all its nodes."""
        sets = self.port_sets.get(node_type)
        if sets is None:
            inputs = node_type.inputs
            sets = self.port_sets[node_type] = (
                frozenset(p for p, port in inputs.items() if port.required),
                frozenset(p for p, port in inputs.items() if port.many),
            )
        return sets


def _templated_at(params: Any, loc: tuple[int | str, ...]) -> bool:
    """Whether the param at ``loc`` (or the deepest part of it that exists) is a template."""
    value = params
    for part in loc:
        if templates.is_template(value):
            return True
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            break
    return templates.is_template(value)


def _is_upstream(predecessors: Mapping[str, set[str]], node_id: str, ref: str) -> bool:
    """Whether ``ref`` is an ancestor of ``node_id`` (breadth-first, stops when found)."""
    seen: set[str] = set()
    frontier = list(predecessors.get(node_id, ()))
    while frontier:
        current = frontier.pop()
        if current == ref:
            return True
        if current not in seen:
            seen.add(current)
            frontier.extend(predecessors.get(current, ()))
    return False
