"""Building and reading the AI tests' executions."""

from __future__ import annotations

import json
from typing import Any

from tav.core.events import NodeProgress, event_to_dict
from tav.core.results import ExecutionResult
from tav.core.workflow import Workflow
from tav.engine.bus import InMemoryBus
from tests.helpers import node, workflow


def chat_flow(**params: Any) -> Workflow:
    """``trigger.manual`` → ``ai.llm_chat`` (id ``chat``) with these params."""
    return workflow(
        node("start", "trigger.manual"),
        node("chat", "ai.llm_chat", params=params),
        links=("start -> chat",),
    )


def ask_flow(**params: Any) -> Workflow:
    """``trigger.manual`` → ``testai.ask`` (id ``ask``): a raw service call."""
    return workflow(
        node("start", "trigger.manual"),
        node("ask", "testai.ask", params=params),
        links=("start -> ask",),
    )


def chain(*links: str) -> list[dict[str, str]]:
    """``chain("openai:gpt", "anthropic:claude")``: credential ids are the kind names."""
    return [{"credential": link.split(":")[0], "model": link.split(":")[1]} for link in links]


async def progress(bus: InMemoryBus, result: ExecutionResult) -> list[dict[str, Any]]:
    """The data of the execution's ``node.progress`` events, in order."""
    found = []
    async for event in bus.subscribe(result.execution_id):
        if isinstance(event, NodeProgress):
            found.append(event.data)
    return found


def tokens(events: list[dict[str, Any]]) -> str:
    return "".join(e["token"] for e in events if "token" in e)


async def everything(bus: InMemoryBus, result: ExecutionResult) -> str:
    """The result and every event, as one JSON text (to look for secrets in)."""
    events = [event_to_dict(e) async for e in bus.subscribe(result.execution_id)]
    return json.dumps(result.to_json()) + json.dumps(events)


def output(result: ExecutionResult, node_id: str = "chat") -> Any:
    return result.nodes[node_id].outputs["output"]
