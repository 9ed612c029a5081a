"""Workflows calling workflows: ``core.subworkflow`` and ``core.map``."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ConfigDict, Field

from tav.core.errors import NodeError
from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs
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


class Map(Node):
    """Runs a workflow once per item, with a concurrency limit; outputs the list of their
    outputs in item order. Each run's trigger payload is ``{"item": x, "index": i}``."""

    spec = NodeSpec(type="core.map", title="Map", category="flow", icon="repeat")
    Params = MapParams

    async def run(self, params: MapParams, input: Any, ctx: NodeContext) -> Outputs:
        results: list[Any] = [None] * len(params.items)
        pending = iter(enumerate(params.items))

        async def worker() -> None:
            for index, item in pending:
                try:
                    results[index] = await ctx.run_workflow(
                        params.workflow, {"item": item, "index": index}
                    )
                except NodeError as exc:
                    raise NodeError(
                        f"item {index}: {exc.message}", type=exc.type, retryable=exc.retryable
                    ) from None

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(params.concurrency, len(params.items))):
                    group.create_task(worker())
        except ExceptionGroup as group_error:
            raise group_error.exceptions[0] from None
        return {"output": results}
