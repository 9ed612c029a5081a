"""``mqtt.publish``: one message to an MQTT topic."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import ConfigDict, Field

from tav.core.media import is_media
from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.builtin.services.common import credential_of
from tav.nodes.capabilities import media_content, media_param
from tav.nodes.context import NodeContext
from tav.nodes.host import MQTT


class MqttPublishParams(Model):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", min_length=1, max_length=255, description="The broker.")
    port: int | None = Field(None, ge=1, le=65535, description="Default: 1883, 8883 with TLS.")
    tls: bool = Field(False, description="Connect over TLS (the system's CA certificates).")
    credential: str | None = Field(
        None,
        min_length=1,
        description="Id of a stored `basic` credential: the broker's username and password.",
    )
    client_id: str | None = Field(None, max_length=128, description="Default: a random one.")
    topic: str = Field(
        min_length=1,
        max_length=65535,
        pattern=r"^[^+#\x00]+$",
        description="Where to publish (no wildcards).",
    )
    payload: Any = Field(
        None,
        description="Text is sent as UTF-8, a media value as its content, anything else as "
        "JSON; default: what arrived on the input port.",
    )
    qos: Literal[0, 1, 2] = 0
    retain: bool = False


class MqttPublish(Node):
    """Publishes a message to a topic of an MQTT broker (username and password from an
    optional `basic` credential); returns once the broker has it."""

    spec = NodeSpec(type="mqtt.publish", title="MQTT publish", category="services", icon="radio")
    Params = MqttPublishParams
    requires = (MQTT,)
    outputs = {"output": Port("{topic, bytes, qos, retain}")}
    pool = "http"

    async def run(self, params: MqttPublishParams, input: Any, ctx: NodeContext) -> Outputs:
        broker: dict[str, Any] = {
            "host": params.host,
            "port": params.port,
            "tls": params.tls,
            "client_id": params.client_id,
        }
        if params.credential is not None:
            credential = await credential_of(ctx, params.credential, "basic")
            broker.update(
                username=credential.data["username"], password=credential.data["password"]
            )
        value = params.payload if params.payload is not None else input
        payload = await encode(ctx, value)
        mqtt = ctx.service(MQTT)
        await mqtt.publish(broker, params.topic, payload, qos=params.qos, retain=params.retain)
        return {
            "output": {
                "topic": params.topic,
                "bytes": len(payload),
                "qos": params.qos,
                "retain": params.retain,
            }
        }


async def encode(ctx: NodeContext, value: Any) -> bytes:
    """What a payload param sends: text as UTF-8, media as its content, else JSON."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    if is_media(value):
        return await media_content(ctx, media_param(value, where="the payload"))
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
