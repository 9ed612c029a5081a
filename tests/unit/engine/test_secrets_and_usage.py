"""Credentials revealed to nodes are redacted from everything the execution reports;
usage counted by nodes is summed per node and per execution."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tav.core.errors import NotFound
from tav.core.events import event_to_dict
from tav.engine.bus import InMemoryBus
from tav.engine.executor import Executor
from tav.engine.memory import MemoryStore
from tav.nodes.context import Credential
from tav.nodes.registry import NodeRegistry
from tests.helpers import node, run, statuses, workflow

SECRET = "sk-live-0123456789abcdef"


class Secrets:
    """A ``SecretProvider`` holding one credential in memory."""

    def __init__(self) -> None:
        self.revealed: set[str] = set()

    async def reveal(self, credential_id: str) -> Credential:
        if credential_id != "openai":
            raise NotFound(f"no credential with id {credential_id!r}")
        self.revealed.add(SECRET)
        return Credential(id="openai", name="OpenAI", kind="openai", data={"api_key": SECRET})

    def redact(self, text: str) -> str:
        for secret in self.revealed:
            text = text.replace(secret, "***")
        return text


@pytest.fixture
def secrets() -> Secrets:
    return Secrets()


@pytest.fixture
def executor(
    registry: NodeRegistry, bus: InMemoryBus, store: MemoryStore, secrets: Secrets
) -> Executor:
    return Executor(registry, bus=bus, store=store, secrets=secrets)


def leaky(*, fail: bool = False) -> Any:
    return workflow(
        node("start", "trigger.manual"),
        node("leak", "test.leak", params={"credential": "openai", "fail": fail}),
        node("after", "core.set", params={"values": {"seen": "{{ nodes.leak.output }}"}}),
        links=("start -> leak", "leak -> after"),
    )


async def test_a_revealed_secret_is_redacted_from_outputs_events_and_logs(
    executor: Executor, bus: InMemoryBus, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tav.node"):
        result = await run(executor, leaky())

    assert statuses(result)["after"] == "succeeded"
    assert result.nodes["leak"].outputs["output"]["data"] == {"api_key": "***"}
    everything = json.dumps(result.to_json()) + json.dumps(
        [event_to_dict(e) async for e in bus.subscribe(result.execution_id)]
    )
    assert SECRET not in everything
    assert '"leaked": {"api_key": "***"}' in everything
    assert "leaking {'api_key': '***'}" in caplog.text
    assert SECRET not in caplog.text


async def test_a_secret_in_an_error_message_is_redacted(
    executor: Executor, bus: InMemoryBus
) -> None:
    result = await run(executor, leaky(fail=True))

    assert result.status.value == "failed"
    assert result.error is not None
    assert "***" in result.error.message
    assert SECRET not in result.error.message
    events = [event_to_dict(e) async for e in bus.subscribe(result.execution_id)]
    assert SECRET not in json.dumps(events)


async def test_an_unknown_credential_fails_the_node_clearly(executor: Executor) -> None:
    wf = workflow(node("leak", "test.leak", params={"credential": "nope"}))

    result = await run(executor, wf)

    error = result.nodes["leak"].error
    assert error is not None
    assert error.type == "credential_not_found"
    assert "nope" in error.message


async def test_without_a_secret_provider_a_credential_is_unavailable(
    registry: NodeRegistry,
) -> None:
    result = await run(
        Executor(registry), workflow(node("leak", "test.leak", params={"credential": "x"}))
    )

    error = result.nodes["leak"].error
    assert error is not None
    assert error.type == "service_unavailable"


async def test_usage_is_summed_per_node_and_per_execution(executor: Executor) -> None:
    wf = workflow(
        node("a", "test.usage", params={"input_tokens": 10, "output_tokens": 3}),
        node("b", "test.usage", params={"input_tokens": 5, "output_tokens": 2}),
        node("c"),
        links=("a -> b", "b -> c"),
    )

    result = await run(executor, wf)

    assert result.nodes["a"].usage == {"input_tokens": 10, "output_tokens": 3, "total_tokens": 13}
    assert result.nodes["c"].usage is None
    assert result.usage == {"input_tokens": 15, "output_tokens": 5, "total_tokens": 20}
    data = result.to_json()
    assert data["usage"]["total_tokens"] == 20
    assert data["nodes"]["b"]["usage"]["input_tokens"] == 5
    assert "usage" not in data["nodes"]["c"]
