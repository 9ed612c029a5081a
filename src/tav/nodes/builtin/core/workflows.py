"""Workflows calling workflows: ``core.subworkflow`` and ``core.map``."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from tav.core.model import Model
from tav.core.waits import children_request
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.core.items import ERRORS_PORT, ON_ITEM_ERROR, OnItemError, each
from tav.nodes.context import ChildWaits, NodeContext

WORKFLOW_REF = (
    "The workflow to run: a stored workflow id; under `tav run`, also a file path relative "
    "to this workflow's file."
)


class SubworkflowParams(Model):
    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(min_length=1, description=WORKFLOW_REF)
    input: Any = Field("{{ input }}", description="The sub-workflow's trigger payload.")


class Subworkflow(Node):
    """Runs another workflow to its end; outputs that workflow's output. If it waits (a
    `core.wait` in it), this node waits too, until it has ended."""

    spec = NodeSpec(type="core.subworkflow", title="Run workflow", category="flow", icon="layers")
    Params = SubworkflowParams

    async def run(self, params: SubworkflowParams, input: Any, ctx: NodeContext) -> Outputs:
        payload = params.input if "input" in params.model_fields_set else input
        return {"output": await ctx.run_workflow(params.workflow, payload)}


class MapParams(Model):
    model_config = ConfigDict(extra="forbid")

    items: list[Any] = Field(description="A list (usually a template), one run per item.")
    workflow: str = Field(min_length=1, description=WORKFLOW_REF)
    concurrency: int = Field(8, ge=1, le=1000, description="Runs at the same time, at most.")
    on_item_error: OnItemError = Field("stop", description=ON_ITEM_ERROR)
    separate_executions: bool = Field(
        False,
        description="Store each item's run as an execution of its own, linked to this one "
        "(its own events, result and history entry). Off: the runs are part of this "
        "node's work, and only their outputs and errors are kept, in its result — unless "
        "the workflow has a node that waits (`core.wait`): its runs are then separate "
        "executions all the same, as only those can wait.",
    )


class Map(Node):
    """Runs a workflow once per item, with a concurrency limit; outputs the list of their
    outputs in item order. Each run's trigger payload is ``{"item": x, "index": i}``.
    The runs are part of this node (nothing of them is stored but their outputs and
    errors) unless `separate_executions` is set or the workflow has a node that waits.
    Runs that wait park this node until every one of them has ended; the others keep
    their outputs."""

    spec = NodeSpec(type="core.map", title="Map", category="flow", icon="repeat")
    Params = MapParams
    outputs = {
        "output": Port("The outputs of the runs, in item order (null for a failed one)."),
        "errors": ERRORS_PORT,
    }

    async def run(self, params: MapParams, input: Any, ctx: NodeContext) -> Outputs:
        if not params.items:
            return {"output": []}
        runner = await ctx.workflow(params.workflow, separate=params.separate_executions)
        waiting: dict[str, int] = {}

        async def one(index: int, item: Any) -> Any:
            try:
                return await runner.run({"item": item, "index": index})
            except ChildWaits as child:  # its result comes once it has ended
                waiting[child.execution_id] = index
                return None

        done = await each(
            params.items, one, concurrency=params.concurrency, on_item_error=params.on_item_error
        )
        if not waiting:
            return done.outputs()
        request = children_request(
            waiting,
            runner.name,
            many=True,
            results=done.results,
            errors=done.errors,
            items={index: params.items[index] for index in waiting.values()},
            on_item_error=params.on_item_error,
        )
        return await ctx.park(request)
