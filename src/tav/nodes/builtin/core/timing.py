"""``core.delay``: wait, then pass the input on."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ConfigDict, Field

from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs
from tav.nodes.context import NodeContext


class DelayParams(Model):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0, le=7 * 24 * 3600, description="How long to wait.")


class Delay(Node):
    """Waits the given number of seconds (cancellable), then passes its input on."""

    spec = NodeSpec(type="core.delay", title="Delay", category="flow", icon="clock")
    Params = DelayParams

    async def run(self, params: DelayParams, input: Any, ctx: NodeContext) -> Outputs:
        await asyncio.sleep(params.seconds)
        return {"output": input}
