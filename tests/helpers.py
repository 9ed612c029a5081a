"""Terse builders for workflows in tests."""

from __future__ import annotations

import itertools
from typing import Any

from tav.core.results import ExecutionResult
from tav.core.workflow import Workflow
from tav.engine.executor import Executor, RunOptions


def node(node_id: str, type_: str = "core.noop", **fields: Any) -> dict[str, Any]:
    """A node document: ``node("wait", "core.delay", params={"seconds": 1})``."""
    return {"id": node_id, "type": type_, **fields}


def edges(*specs: str) -> list[dict[str, str]]:
    """``edges("a -> b", "b:true -> c")``."""
    result = []
    for spec in specs:
        source, target = (part.strip() for part in spec.split("->"))
        result.append({"from": source, "to": target})
    return result


def document(*nodes: dict[str, Any], links: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": extra.pop("name", "test"),
        "nodes": list(nodes),
        "edges": edges(*links),
        **extra,
    }


AMOUNT_FORM = {"type": "object", "properties": {"amount": {"type": "integer"}}}
"""An approval's form of one field, ``amount``."""


def item_asking(*first: dict[str, Any], name: str) -> dict[str, Any]:
    """A ``core.map`` item's workflow: item 1 waits for an approval (``AMOUNT_FORM``) and
    outputs the amount approved, the others output their item doubled at once; the nodes
    ``first`` run before, one after the other."""
    chain = ["start", *(step["id"] for step in first), "check"]
    return document(
        node("start", "trigger.manual"),
        *first,
        node("check", "core.if", params={"condition": "{{ trigger.index == 1 }}"}),
        node("ask", "core.wait", params={"mode": "approval", "fields": AMOUNT_FORM}),
        node("asked", "core.set", params={"values": {"v": "{{ input.data.amount }}"}}),
        node("double", "core.set", params={"values": {"v": "{{ trigger.item * 2 }}"}}),
        node("out", "core.output", params={"value": "{{ input.v }}"}),
        links=(
            *(f"{a} -> {b}" for a, b in itertools.pairwise(chain)),
            "check:true -> ask",
            "ask:approved -> asked",
            "check:false -> double",
            "asked -> out",
            "double -> out",
        ),
        name=name,
    )


def workflow(*nodes: dict[str, Any], links: tuple[str, ...] = (), **extra: Any) -> Workflow:
    return Workflow.model_validate(document(*nodes, links=links, **extra))


async def run(
    executor: Executor, wf: Workflow, trigger: Any = None, options: RunOptions | None = None
) -> ExecutionResult:
    return await executor.execute(executor.compile(wf), trigger, options)


def statuses(result: ExecutionResult) -> dict[str, str]:
    return {node_id: node.status.value for node_id, node in result.nodes.items()}


RESULT_KEYS = {
    "execution_id",
    "workflow",
    "status",
    "error",
    "output",
    "started_at",
    "finished_at",
    "duration_ms",
    "nodes",
}
"""The keys of ``tav run --json`` (and of an execution over the API, with more)."""
