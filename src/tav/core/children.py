"""A node waiting for sub-executions that wait: what it keeps, and what it settles with.

``core.subworkflow`` runs one child execution, ``core.map`` (with separate executions)
one per item. A child that parks (a ``core.wait`` in it, or a node of its own waiting for
a child of its own) ends its run ``waiting``, stored with its own waits and links; the
node that started it then parks too, with a wait of mode ``execution`` that keeps a
``ChildWait``: the children it waits for and, for ``core.map``, what the items that did
not wait came to. Nobody decides such a wait by hand: once every child it waits for has
ended, ``settle`` makes the node's outcome of their ends, as the node would have made it
had they not waited (the child's output, or ``subworkflow_failed``; the map's list in
item order, ``on_item_error`` applied).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tav.core.model import Model
from tav.core.results import ErrorInfo


class ChildWait(Model):
    """What a node waiting for child executions keeps with its wait."""

    executions: dict[str, int]
    """The child executions it waits for, with the item each runs (0 for
    ``core.subworkflow``)."""
    workflow: str = ""
    """The sub-workflow's name, for messages."""
    many: bool = False
    """``core.map``: the outputs are a list in item order (else the one child's output)."""
    results: list[Any] = Field(default_factory=list)
    """``core.map``: every item's result so far (``None`` for those that wait)."""
    errors: list[dict[str, Any]] = Field(default_factory=list)
    """``core.map``: the errors of the items that failed so far (``on_item_error:
    continue``)."""
    items: dict[int, Any] = Field(default_factory=dict)
    """``core.map``: the items that wait, by index (an error record shows its item)."""
    on_item_error: Literal["stop", "continue"] = "stop"
    label: str = "item"


class ChildEnd(Model):
    """How a child execution ended: its status (``succeeded``, ``failed``, ``cancelled``),
    output and error."""

    status: str
    output: Any = None
    error: ErrorInfo | None = None


def settle(wait: ChildWait, ends: dict[str, ChildEnd]) -> tuple[dict[str, Any], ErrorInfo | None]:
    """The node's outputs (by port) once every child has ended, or its error."""
    if not wait.many:
        (execution_id,) = wait.executions
        end = ends[execution_id]
        if end.status == "succeeded":
            return {"output": end.output}, None
        return {}, child_failure(wait.workflow, end)
    results = list(wait.results)
    failed = {error["index"]: error for error in wait.errors}
    for execution_id, index in sorted(wait.executions.items(), key=lambda pair: pair[1]):
        end = ends[execution_id]
        if end.status == "succeeded":
            results[index] = end.output
            continue
        error = child_failure(wait.workflow, end)
        if wait.on_item_error == "stop":
            message = f"{wait.label} {index}: {error.message}"
            return {}, error.model_copy(update={"message": message})
        failed[index] = {
            "index": index,
            "item": wait.items.get(index),
            "type": error.type,
            "message": error.message,
        }
    outputs: dict[str, Any] = {"output": results}
    if failed:
        outputs["errors"] = [failed[index] for index in sorted(failed)]
    return outputs, None


def child_failure(workflow: str, end: ChildEnd) -> ErrorInfo:
    """A child that did not succeed, as ``ctx.run_workflow`` reports it."""
    error = end.error or ErrorInfo(type="subworkflow_failed", message=end.status)
    return ErrorInfo(
        type="subworkflow_failed",
        message=f"sub-workflow '{workflow}' {end.status}: {error.message}",
        retryable=error.retryable,
    )
