"""Data nodes: ``core.set`` shapes values, ``core.output`` names the workflow's result."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from tav.core.errors import NodeError
from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.context import NodeContext


class SetParams(Model):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(
        default_factory=dict, description="Keys and values to output; templates are rendered."
    )
    keep_input: bool = Field(
        False, description="Merge the values into the input object instead of replacing it."
    )


class Set(Node):
    """Outputs an object built from templates, optionally merged into the input object."""

    spec = NodeSpec(type="core.set", title="Set values", category="data", icon="pencil")
    Params = SetParams

    async def run(self, params: SetParams, input: Any, ctx: NodeContext) -> Outputs:
        if not params.keep_input:
            return {"output": params.values}
        if input is None:
            return {"output": params.values}
        if not isinstance(input, dict):
            raise NodeError(
                f"keep_input needs an object as input, got {type(input).__name__}",
                type="invalid_input",
            )
        return {"output": {**input, **params.values}}


class OutputParams(Model):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(
        "{{ input }}", description="The workflow's output (a template; by default the input)."
    )


class Output(Node):
    """Sets the workflow's output; a workflow has at most one."""

    spec = NodeSpec(type="core.output", title="Workflow output", category="data", icon="flag")
    Params = OutputParams
    outputs = {"output": Port("The value, passed on.")}
    max_per_workflow = 1

    async def run(self, params: OutputParams, input: Any, ctx: NodeContext) -> Outputs:
        if "value" not in params.model_fields_set:
            return {"output": input}
        return {"output": params.value}
