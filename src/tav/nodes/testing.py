"""Node types for tests: deterministic failures, slow work, recorded calls.

Shipped with the package so that tests of TAV Engine — and of plugins — can build
workflows that fail, retry or take time on purpose. Not part of the default registry:
register them explicitly, ``NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES])``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tav.core.errors import NodeError, OperationalError
from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.context import NodeContext


class FlakyParams(Model):
    model_config = ConfigDict(extra="forbid")

    fail_attempts: int = Field(1, ge=0, description="How many first attempts fail.")
    retryable: bool = True
    retry_after: float | None = None


class Flaky(Node):
    """Fails its first `fail_attempts` attempts, then passes its input on."""

    spec = NodeSpec(type="test.flaky", category="testing")
    Params = FlakyParams

    async def run(self, params: FlakyParams, input: Any, ctx: NodeContext) -> Outputs:
        if ctx.attempt <= params.fail_attempts:
            raise NodeError(
                f"attempt {ctx.attempt} fails on purpose",
                type="flaky",
                retryable=params.retryable,
                retry_after=params.retry_after,
            )
        return {"output": {"attempt": ctx.attempt, "input": input}}


class RaiseParams(Model):
    model_config = ConfigDict(extra="forbid")

    message: str = "boom"


class Raise(Node):
    """Raises a plain ``RuntimeError``: an unexpected error, as a bug would."""

    spec = NodeSpec(type="test.raise", category="testing")
    Params = RaiseParams

    async def run(self, params: RaiseParams, input: Any, ctx: NodeContext) -> Outputs:
        raise RuntimeError(params.message)


class Transient(Node):
    """Always fails with a retryable operational error."""

    spec = NodeSpec(type="test.transient", category="testing")

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        raise OperationalError("temporarily unavailable")


class SpinParams(Model):
    model_config = ConfigDict(extra="forbid")

    seconds: float = 0.1


class Spin(Node):
    """Burns CPU off the event loop for `seconds` (in the `cpu` pool)."""

    spec = NodeSpec(type="test.spin", category="testing")
    Params = SpinParams

    async def run(self, params: SpinParams, input: Any, ctx: NodeContext) -> Outputs:
        def spin() -> float:
            end = time.perf_counter() + params.seconds
            while time.perf_counter() < end:
                pass
            return params.seconds

        return {"output": await ctx.to_thread(spin)}


class Progress(Node):
    """Reports each character of its input as a ``node.progress`` event, like tokens."""

    spec = NodeSpec(type="test.progress", category="testing")

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        for token in str(input):
            ctx.progress({"token": token})
            await asyncio.sleep(0)
        return {"output": input}


class Ports(Node):
    """Outputs its input object's keys as ports: ``{"a": 1}`` → port `a` carries 1."""

    spec = NodeSpec(type="test.ports", category="testing")
    outputs = {"a": Port(), "b": Port(), "c": Port()}

    async def run(self, params: BaseModel, input: Any, ctx: NodeContext) -> Outputs:
        return dict(input or {})


class LeakParams(Model):
    model_config = ConfigDict(extra="forbid")

    credential: str
    fail: bool = Field(False, description="Fail with the secrets in the error message.")


class Leak(Node):
    """Reveals a credential and tries to leak its values everywhere: its output, a
    progress event, the log and (with `fail`) its error message. Redaction must catch
    them all."""

    spec = NodeSpec(type="test.leak", category="testing")
    Params = LeakParams

    async def run(self, params: LeakParams, input: Any, ctx: NodeContext) -> Outputs:
        credential = await ctx.credential(params.credential)
        values = {key: str(value) for key, value in credential.data.items()}
        ctx.progress({"leaked": values})
        ctx.log.warning("leaking %s", values)
        if params.fail:
            raise NodeError(f"failed with {values}", type="leak")
        return {"output": {"kind": credential.kind, "data": values, "input": input}}


class UsageParams(Model):
    model_config = ConfigDict(extra="forbid")

    input_tokens: int = 0
    output_tokens: int = 0


class Usage(Node):
    """Records token usage, as an LLM node does, and passes its input on."""

    spec = NodeSpec(type="test.usage", category="testing")
    Params = UsageParams

    async def run(self, params: UsageParams, input: Any, ctx: NodeContext) -> Outputs:
        ctx.add_usage(
            {
                "input_tokens": params.input_tokens,
                "output_tokens": params.output_tokens,
                "total_tokens": params.input_tokens + params.output_tokens,
            }
        )
        return {"output": input}


TESTING_NODE_TYPES: list[type[Node]] = [
    Flaky,
    Raise,
    Transient,
    Spin,
    Progress,
    Ports,
    Leak,
    Usage,
]
