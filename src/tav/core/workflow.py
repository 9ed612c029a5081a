"""The workflow document, format v1 (see docs/reference/workflow-format.md).

A workflow is plain data: nodes with typed settings, edges between ``node:port`` ends,
and editor-only ``ui`` data. This module parses it from JSON-like data and checks its
structure — everything that can be known without the node registry (ids, edge ends,
cycles). Checks that need node types (params, ports, templates) live in
``tav.engine.plan``.
"""

from __future__ import annotations

import graphlib
import random
import re
from collections import Counter
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator

from tav.core.errors import Problem, WorkflowInvalid
from tav.core.model import Model

SCHEMA_VERSION = 1
DEFAULT_OUTPUT_PORT = "output"
DEFAULT_INPUT_PORT = "input"
ERROR_PORT = "error"

NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_PORT = r"[A-Za-z_][A-Za-z0-9_\-]*"
EDGE_END_PATTERN = rf"^[A-Za-z_][A-Za-z0-9_]{{0,63}}(:{_PORT})?$"
POOL_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_.\-]{1,128}$"
"""A tool name as MCP allows it: 1 to 128 letters, digits, ``_``, ``-`` and ``.``."""

OnError = Literal["stop", "continue", "branch"]
KeepSuccesses = Literal["all", "summary", "count"]
"""What is stored of a successful execution (a failed one is always stored in full):
``all`` of it; its ``summary`` (status, mode, timings) and its input; or nothing but a
count of the workflow's successful runs. See docs/reference/workflow-format.md."""


class _Model(Model):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class RetryPolicy(_Model):
    """How often and how patiently a failing node is tried again."""

    max_attempts: int = Field(3, ge=1, le=100, description="Attempts in all, the first included.")
    backoff_s: float = Field(1.0, ge=0, description="Delay before the second attempt.")
    backoff_factor: float = Field(2.0, ge=1, description="Each further delay is multiplied by it.")
    max_backoff_s: float = Field(60.0, ge=0, description="No delay is longer than this.")
    jitter: bool = Field(True, description="Randomise each delay to between half and all of it.")

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` (1-based) failed."""
        base = min(self.backoff_s * self.backoff_factor ** (failed_attempt - 1), self.max_backoff_s)
        if self.jitter:
            base *= (rng or random).uniform(0.5, 1.0)
        return base


class NodeDef(_Model):
    """One node of a workflow: its type, params and per-node execution settings."""

    id: str = Field(pattern=NODE_ID_PATTERN, description="Stable slug, unique in the workflow.")
    type: str = Field(min_length=1, description="Node type id, e.g. core.http_request.")
    version: int | None = Field(
        None, ge=1, description="Type version the params were written for; none means latest."
    )
    name: str | None = Field(None, description="Display title in the editor.")
    params: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy | None = None
    timeout_s: float | None = Field(None, gt=0)
    on_error: OnError = "stop"
    pool: str | None = Field(
        None,
        pattern=POOL_PATTERN,
        description="Concurrency pool the node runs in, instead of its type's; its limit "
        "is a setting.",
    )
    pin: dict[str, Any] | None = Field(
        None, description="Pinned outputs by port: the node is not run, these values flow on."
    )


class EdgeDef(_Model):
    """A connection from an output port to an input port: ``"node"`` or ``"node:port"``."""

    source: str = Field(alias="from", pattern=EDGE_END_PATTERN)
    target: str = Field(alias="to", pattern=EDGE_END_PATTERN)

    @property
    def source_node(self) -> str:
        return self.source.partition(":")[0]

    @property
    def source_port(self) -> str:
        return self.source.partition(":")[2] or DEFAULT_OUTPUT_PORT

    @property
    def target_node(self) -> str:
        return self.target.partition(":")[0]

    @property
    def target_port(self) -> str:
        return self.target.partition(":")[2] or DEFAULT_INPUT_PORT


class WorkflowSettings(_Model):
    """How the workflow's executions are run and kept."""

    keep_successes: KeepSuccesses | None = Field(
        None,
        description="What is stored of a successful execution: all of it, its summary and "
        "input, or only a count; none means the runtime setting keep_successes. A failed "
        "execution is always stored in full.",
    )


class McpTool(_Model):
    """The workflow offered as a tool of TAV's MCP server (docs/reference/mcp.md)."""

    name: str = Field(
        pattern=TOOL_NAME_PATTERN,
        description="The tool's name: 1 to 128 letters, digits, _, - and ., unique among the "
        "workflows offered.",
    )


class Workflow(_Model):
    """A workflow document, format v1."""

    schema_version: Literal[1] = Field(1, alias="schema")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    input_schema: dict[str, Any] | None = Field(
        None,
        description="JSON Schema (an object) of the trigger payload the workflow expects. "
        "ai.agent gives it to the model as the tool's arguments, and the MCP server to its "
        "clients; a tool call's arguments are checked against it (other runs are not).",
    )
    mcp: McpTool | None = Field(
        None, description="Offer the workflow as a tool of the MCP server (at /mcp)."
    )
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Workflow variables, available as vars.<name>."
    )
    nodes: list[NodeDef] = Field(default_factory=list)
    edges: list[EdgeDef] = Field(default_factory=list)
    settings: WorkflowSettings | None = None
    ui: dict[str, Any] = Field(default_factory=dict, description="Editor-only data.")

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    def node(self, node_id: str) -> NodeDef:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def to_document(self) -> dict[str, Any]:
        """The document as JSON-ready data, keys as written in files."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_workflow(data: Any, *, source: str | None = None, structure: bool = True) -> Workflow:
    """Parse and (unless ``structure`` is false) structurally check a workflow document.

    Raises ``WorkflowInvalid`` listing every problem, each with its location. Callers that
    compile the workflow next pass ``structure=False``: compiling checks the structure too,
    and reports its problems together with those that need the node registry.
    """
    try:
        workflow = Workflow.model_validate(data)
    except ValidationError as exc:
        raise WorkflowInvalid(_problems_from_pydantic(exc, data), source=source) from None
    problems = check_structure(workflow) if structure else []
    if problems:
        raise WorkflowInvalid(problems, source=source)
    return workflow


def check_structure(workflow: Workflow) -> list[Problem]:
    """Problems that need no node registry: ids, edge ends, cycles."""
    problems: list[Problem] = []
    counts = Counter(node.id for node in workflow.nodes)
    for node_id, count in counts.items():
        if count > 1:
            problems.append(Problem(f"duplicate node id (used {count} times)", node=node_id))
    seen_edges: set[tuple[str, str]] = set()
    for index, edge in enumerate(workflow.edges):
        for field, node_id in (("from", edge.source_node), ("to", edge.target_node)):
            if node_id not in counts:
                problems.append(Problem(f"unknown node '{node_id}'", edge=index, field=field))
        if edge.source_node == edge.target_node:
            problems.append(Problem("an edge cannot connect a node to itself", edge=index))
        key = (edge.source, edge.target)
        if key in seen_edges:
            problems.append(Problem(f"duplicate edge {edge.source} → {edge.target}", edge=index))
        seen_edges.add(key)
    problems.extend(_cycle_problems(workflow, set(counts)))
    return problems


def _cycle_problems(workflow: Workflow, node_ids: set[str]) -> list[Problem]:
    # Built in document order, so the same document always reports the same cycle.
    graph: dict[str, set[str]] = {n.id: set() for n in workflow.nodes}
    for edge in workflow.edges:
        src, dst = edge.source_node, edge.target_node
        if src in node_ids and dst in node_ids and src != dst:
            graph[dst].add(src)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = _from_first(exc.args[1][:-1], list(graph))
        path = " → ".join([*cycle, cycle[0]])
        return [Problem(f"the edges form a cycle: {path}", node=cycle[0])]
    return []


def _from_first(cycle: list[str], order: list[str]) -> list[str]:
    """The cycle (in edge direction) rotated to start at its first node in ``order``."""
    start = cycle.index(min(cycle, key=order.index))
    return cycle[start:] + cycle[:start]


def _problems_from_pydantic(exc: ValidationError, data: Any) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        node = edge = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            node = _raw_node_id(data, loc[1])
            loc = loc[2:]
        elif len(loc) >= 2 and loc[0] == "edges" and isinstance(loc[1], int):
            edge = loc[1]
            loc = loc[2:]
        field = ".".join(str(part) for part in loc) or None
        message = _friendly_message(error)
        problems.append(Problem(message, node=node, edge=edge, field=field))
    return problems


def _raw_node_id(data: Any, index: int) -> str:
    try:
        node_id = data["nodes"][index]["id"]
        if isinstance(node_id, str) and re.match(NODE_ID_PATTERN, node_id):
            return node_id
    except (KeyError, IndexError, TypeError):
        pass
    return f"#{index}"


def _friendly_message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch" and error["loc"][-1] == "id":
        return "node ids are letters, digits and '_', starting with a letter or '_'"
    if kind == "string_pattern_mismatch" and error["loc"][-1] in ("from", "to"):
        return f"edge ends are 'node' or 'node:port', got {error['input']!r}"
    return str(error["msg"])
