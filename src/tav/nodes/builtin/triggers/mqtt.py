"""``trigger.mqtt``: each message on an MQTT topic starts a run."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Port
from tav.nodes.capabilities import TriggerCapability


class MqttParams(Model):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(
        min_length=1,
        max_length=1024,
        description="Topic filter; '+' matches one level, '#' the rest: sensors/+/temperature.",
    )
    qos: Literal[0, 1, 2] = Field(0, description="Quality of service of the subscription.")
    host: str = Field("127.0.0.1", min_length=1, max_length=255, description="The broker.")
    port: int = Field(1883, ge=1, le=65535)
    credential: str | None = Field(
        None, max_length=200, description="A basic credential: the broker's username/password."
    )
    tls: bool = Field(False, description="Connect over TLS (the system's CA certificates).")
    client_id: str | None = Field(
        None, max_length=128, description="MQTT client id; default: a random one."
    )


class MqttTrigger(TriggerCapability, Node):
    """Starts the workflow for each message published on a topic of an MQTT broker,
    while the workflow is active; reconnects with backoff when the broker goes away."""

    spec = NodeSpec(type="trigger.mqtt", title="MQTT", category="triggers", icon="radio")
    Params = MqttParams
    outputs = {"output": Port("The message: {topic, payload, qos, retain}.")}
    trigger_kind = "mqtt"
    raw_params = frozenset(MqttParams.model_fields)
