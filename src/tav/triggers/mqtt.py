"""MQTT subscriptions (aiomqtt): each message on the topic starts a run.

The subscription reconnects after the broker goes away, waiting 0.5 s, then twice as long
each time up to ``MAX_BACKOFF_S``, and from the start again once connected. Messages are
taken one at a time, in order: a run is recorded before the next message is taken. With
QoS 1 or 2, a message that arrives while the server is down is lost unless the broker
keeps a session for a fixed ``client_id``.

The payload is JSON if it parses, else text, else (bytes that are not UTF-8) base64 text:
reading it never fails, so no payload costs the subscription its connection. JSON that
parses into what a run cannot take (nested too deeply to read, ``NaN``) arrives as its
text; a run that cannot start is logged and the message skipped.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
from collections.abc import Mapping
from typing import Any

from tav.core.modes import ExecutionMode
from tav.nodes.builtin.triggers.mqtt import MqttParams
from tav.triggers.base import Background, Host, Target, check_credential

logger = logging.getLogger("tav.triggers.mqtt")
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0


class Subscription(Background):
    def __init__(self, target: Target, config: MqttParams, host: Host) -> None:
        super().__init__(f"mqtt {target.workflow.id}/{target.node_id}")
        self.target = target
        self.config = config
        self.host = host
        self.connected = False
        """True while subscribed (tests wait for it)."""

    async def body(self) -> None:
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                async with await self._client() as client:
                    await client.subscribe(self.config.topic, qos=self.config.qos)
                    self.connected, backoff = True, FIRST_BACKOFF_S
                    async for message in client.messages:
                        await self._fire(message)
            except Exception as exc:  # the broker went away, refused us, or no credential
                logger.warning("%s: %s; reconnecting in %.1f s", self.name, exc, backoff)
            finally:
                self.connected = False
            await self.host.clock.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _client(self) -> Any:
        import aiomqtt  # imported once a subscription is armed

        config = self.config
        username = password = None
        if config.credential:
            data = (await self.host.credentials.reveal(config.credential)).data
            username, password = data.get("username"), data.get("password")
        return aiomqtt.Client(
            config.host,
            config.port,
            username=username,
            password=password,
            identifier=config.client_id,
            clean_session=config.client_id is None,
            tls_context=ssl.create_default_context() if config.tls else None,
        )

    async def _fire(self, message: Any) -> None:
        payload = {
            "topic": str(message.topic),
            "payload": _decoded(message.payload),
            "qos": message.qos,
            "retain": bool(message.retain),
        }
        try:
            await self.target.launch(self.host, payload, ExecutionMode.MQTT)
        except Exception as exc:
            logger.warning("%s: cannot start a run: %s", self.name, exc)


def _decoded(payload: Any) -> Any:
    """JSON if it parses, else text (bytes that are not UTF-8: base64 text)."""
    if isinstance(payload, bytes | bytearray):
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(payload).decode("ascii")
    else:
        text = "" if payload is None else str(payload)
    try:
        return json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):  # not JSON, NaN or Infinity, nested too deeply
        return text


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


class MqttKind:
    def parse(self, activation: Mapping[str, Any]) -> MqttParams:
        return MqttParams.model_validate({k: v for k, v in activation.items() if k != "kind"})

    def claims(self, config: MqttParams) -> frozenset[str]:
        if config.client_id:  # a broker drops the older of two connections with one id
            return frozenset(
                {f"mqtt client id {config.client_id!r} on {config.host}:{config.port}"}
            )
        return frozenset()

    async def check(self, config: MqttParams, host: Host) -> None:
        if config.credential:
            await check_credential(host, config.credential, ("basic",))

    def arm(self, target: Target, config: MqttParams, host: Host) -> Subscription:
        return Subscription(target, config, host)
