"""Terse builders for workflows in tests."""

from __future__ import annotations

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
