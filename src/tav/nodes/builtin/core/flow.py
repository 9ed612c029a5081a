"""Flow control: ``core.if``, ``core.switch``, ``core.merge``, ``core.noop``, ``core.fail``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tav.core.errors import NodeError
from tav.core.model import Model
from tav.nodes.base import PORT_PATTERN, Node, NodeSpec, Outputs, Port
from tav.nodes.capabilities import BranchingCapability
from tav.nodes.context import NodeContext

FALSE_STRINGS = frozenset({"", "false", "0", "no", "off", "none", "null"})


def truthy(value: Any) -> bool:
    """Truthiness for conditions: Python's, plus the strings 'false', 'no', '0', 'off'..."""
    if isinstance(value, str):
        return value.strip().lower() not in FALSE_STRINGS
    return bool(value)


class IfParams(Model):
    model_config = ConfigDict(extra="forbid")

    condition: Any = Field(
        description="A template; its value's truthiness picks the port "
        "(the strings 'false', 'no', 'off', '0' and '' count as false)."
    )


class If(BranchingCapability, Node):
    """Sends its input to `true` or `false` depending on a condition."""

    spec = NodeSpec(type="core.if", title="If", category="flow", icon="split")
    Params = IfParams
    outputs = {
        "true": Port("The input, when the condition holds."),
        "false": Port("The input, when it does not."),
    }

    async def run(self, params: IfParams, input: Any, ctx: NodeContext) -> Outputs:
        return {"true" if truthy(params.condition) else "false": input}


class SwitchParams(Model):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(description="A template; compared, as text, with each case.")
    cases: list[str] = Field(
        min_length=1, description="One output port per case, named after it; else `default`."
    )

    @field_validator("cases")
    @classmethod
    def _port_names(cls, cases: list[str]) -> list[str]:
        for case in cases:
            if not PORT_PATTERN.match(case) or case == "default":
                raise ValueError(
                    f"case {case!r} must be a port name (letters, digits, '_' or '-') "
                    "other than 'default'"
                )
        if len(set(cases)) != len(cases):
            raise ValueError("cases must be unique")
        return cases


class Switch(BranchingCapability, Node):
    """Sends its input to the port named after the case its value matches, else `default`."""

    spec = NodeSpec(type="core.switch", title="Switch", category="flow", icon="route")
    Params = SwitchParams
    outputs = {"default": Port("The input, when no case matches.")}

    @classmethod
    def output_ports(cls, params: BaseModel | None) -> dict[str, Port]:
        cases = params.cases if isinstance(params, SwitchParams) else []
        return {
            **{case: Port(f"The input, when the value is {case!r}.") for case in cases},
            **cls.outputs,
        }

    async def run(self, params: SwitchParams, input: Any, ctx: NodeContext) -> Outputs:
        text = _as_text(params.value)
        return {text if text in params.cases else "default": input}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class MergeParams(Model):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["list", "object"] = Field(
        "list",
        description="`list`: the values that arrived, in edge order; "
        "`object`: keyed by source node id.",
    )


class Merge(Node):
    """Waits for every upstream node and passes on whatever arrived."""

    spec = NodeSpec(type="core.merge", title="Merge", category="flow", icon="merge")
    Params = MergeParams
    inputs = {"input": Port("Any number of edges; none is required.", required=False, many=True)}

    async def run(self, params: MergeParams, input: Any, ctx: NodeContext) -> Outputs:
        arrivals = ctx.inputs.arrivals("input")
        if params.mode == "list":
            return {"output": [a.value for a in arrivals]}
        return {
            "output": {
                (a.node if a.port == "output" else f"{a.node}:{a.port}"): a.value for a in arrivals
            }
        }


class Noop(Node):
    """Passes its input through unchanged."""

    spec = NodeSpec(type="core.noop", title="No operation", category="flow", icon="arrow-right")

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        return {"output": input}


class FailParams(Model):
    # A message that is one `{{ expr }}` renders to its native type; a number must do.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    message: str = Field(description="Why the workflow stops here (a template).")


class Fail(Node):
    """Always fails, with the given message."""

    spec = NodeSpec(type="core.fail", title="Fail", category="flow", icon="x-octagon")
    Params = FailParams
    outputs = {}

    async def run(self, params: FailParams, input: Any, ctx: NodeContext) -> Outputs:
        raise NodeError(params.message, type="fail")
