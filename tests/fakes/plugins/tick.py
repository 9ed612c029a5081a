"""A plugin file for TAV_NODES_PATH: a trigger node (``acme.tick``) and the kind that arms
it (``tick``), found by discovery. Tests point ``nodes_path`` at this folder."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from tav.core.modes import ExecutionMode
from tav.nodes import Node, NodeSpec, Port
from tav.nodes.capabilities import TriggerCapability
from tav.triggers import TriggerKindSpec
from tav.triggers.base import Background, Host, Target


class TickParams(BaseModel):
    every_s: float = Field(0.01, gt=0)
    count: int = Field(2, ge=1)


class TickTrigger(TriggerCapability, Node):
    """Starts the workflow `count` times, every `every_s` seconds, once activated."""

    spec = NodeSpec(type="acme.tick", title="Tick", category="triggers")
    Params = TickParams
    outputs = {"output": Port("{tick: n}")}
    trigger_kind = "tick"


class Ticking(Background):
    """Launches the workflow ``count`` times, ``every_s`` apart."""

    def __init__(self, target: Target, config: TickParams, host: Host) -> None:
        super().__init__(f"tick {target.workflow.name}")
        self.target, self.config, self.host = target, config, host

    async def body(self) -> None:
        for n in range(1, self.config.count + 1):
            await asyncio.sleep(self.config.every_s)
            await self.target.launch(self.host, {"tick": n}, ExecutionMode.TRIGGER)


class TickKind:
    def parse(self, activation: Any) -> TickParams:
        return TickParams.model_validate({k: v for k, v in activation.items() if k != "kind"})

    def claims(self, config: TickParams) -> frozenset[str]:
        return frozenset()

    async def check(self, config: TickParams, host: Host) -> None:
        return None

    def arm(self, target: Target, config: TickParams, host: Host) -> Ticking:
        return Ticking(target, config, host)


TICK_KIND = TriggerKindSpec("tick", "tick", lambda setup: TickKind())
