"""Workflows calling workflows: ``core.subworkflow`` and ``core.map``."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.core.items import ERRORS_PORT, ON_ITEM_ERROR, OnItemError, each
from tav.nodes.context import NodeContext

WORKFLOW_REF = (
    "The workflow to run: a stored workflow id; under `tav run`, also a file path relative "
    "to this workflow's file."
)


class SubworkflowParams(Model):
    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(min_length=1, description=WORKFLOW_REF)
    input: Any = Field("{{ input }}", description="The sub-workflow's trigger payload.")


class Subworkflow(Node):
    """Runs another workflow to its end; outputs that workflow's output."""

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
        "node's work, and only their outputs and errors are kept, in its result.",
    )


class Map(Node):
    """Runs a workflow once per item, with a concurrency limit; outputs the list of their
    outputs in item order. Each run's trigger payload is ``{"item": x, "index": i}``.
    The runs are part of this node (nothing of them is stored but their outputs and
    errors) unless `separate_executions` is set."""

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

        async def one(index: int, item: Any) -> Any:
            return await runner.run({"item": item, "index": index})

        done = await each(
            params.items, one, concurrency=params.concurrency, on_item_error=params.on_item_error
        )
        return done.outputs()
