"""mqtt.publish through the Mosquitto broker on 127.0.0.1:1883."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiomqtt
import pytest
from pydantic import ValidationError

from tav.core.results import NodeResult
from tav.engine.executor import Executor
from tav.nodes.builtin.services.mqtt import MqttPublishParams
from tests.fakes.secrets import MemorySecrets
from tests.fakes.smtp import free_port
from tests.helpers import node, run, workflow

BROKER = "127.0.0.1"


async def publish(executor: Executor, trigger: Any = None, **params: Any) -> NodeResult:
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "pub",
            "mqtt.publish",
            params=params,
            retry={"max_attempts": 2, "backoff_s": 0, "jitter": False},
        ),
        links=("start -> pub",),
    )
    return (await run(executor, wf, trigger)).nodes["pub"]


async def received(topic: str, count: int, action: Any) -> list[aiomqtt.Message]:
    """Subscribe to ``topic``, run ``action``, and collect ``count`` messages."""
    messages: list[aiomqtt.Message] = []
    async with aiomqtt.Client(BROKER, 1883) as client:
        await client.subscribe(topic, qos=1)
        await action()
        async with asyncio.timeout(5):
            async for message in client.messages:
                messages.append(message)
                if len(messages) == count:
                    break
    return messages


async def test_json_and_text_payloads_reach_subscribers(
    executor: Executor, memory_secrets: MemorySecrets
):
    topic = f"tav-test/{uuid.uuid4().hex}/readings"
    memory_secrets.add("broker", "basic", username="tav", password="mqtt-pw")
    outcomes: list[NodeResult] = []

    async def act() -> None:
        outcomes.append(
            await publish(
                executor, {"t": 21.5}, host=BROKER, topic=topic, qos=1, credential="broker"
            )
        )
        outcomes.append(await publish(executor, None, topic=topic, payload="plain text"))

    first, second = await received(topic, 2, act)

    assert [o.status.value for o in outcomes] == ["succeeded", "succeeded"]
    assert json.loads(first.payload) == {"t": 21.5}  # type: ignore[arg-type]
    assert first.qos == 1
    assert second.payload == b"plain text"
    assert outcomes[0].outputs["output"] == {
        "topic": topic,
        "bytes": len(b'{"t":21.5}'),
        "qos": 1,
        "retain": False,
    }


async def test_a_broker_that_is_not_there_is_retried(executor: Executor):
    outcome = await publish(executor, {}, port=free_port(), topic="x", payload="y")

    assert outcome.error is not None
    assert (outcome.error.type, outcome.error.retryable, outcome.attempts) == (
        "mqtt_error",
        True,
        2,
    )


@pytest.mark.parametrize("topic", ["a/+/b", "a/#"])
def test_wildcards_cannot_be_published_to(topic: str):
    with pytest.raises(ValidationError):
        MqttPublishParams(topic=topic)
