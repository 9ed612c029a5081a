"""Publishing to an MQTT broker (aiomqtt).

One connection per publish: nodes publish now and then, and a connection kept per
credential would need its own reconnect and shutdown handling for little gain. A broker
that refuses the credentials (CONNACK "bad user name or password", "not authorized") is
a final error; a broker that cannot be reached, or drops the connection, is retryable.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tav.core.errors import NodeError, OperationalError

if TYPE_CHECKING:
    import aiomqtt

REFUSED_CODES = frozenset({4, 5, 134, 135})
"""CONNACK codes for wrong credentials: 3.1.1 (4, 5) and 5.0 (0x86, 0x87)."""


class MqttClient:
    """``tav.nodes.services.MqttPublisher``."""

    def __init__(self, *, timeout_s: float, tls_context: ssl.SSLContext | None = None) -> None:
        self.timeout_s = timeout_s
        self.tls_context = tls_context

    async def publish(
        self,
        broker: Mapping[str, Any],
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
    ) -> None:
        import aiomqtt  # on first use: it is not needed to start a server

        host = broker.get("host")
        if not host:
            raise NodeError("the mqtt credential has no host", type="credential_invalid")
        tls = bool(broker.get("tls"))
        port = int(broker.get("port") or (8883 if tls else 1883))
        where = f"MQTT {host}:{port}"
        client = aiomqtt.Client(
            str(host),
            port,
            username=broker.get("username") or None,
            password=broker.get("password") or None,
            identifier=broker.get("client_id") or None,
            tls_context=(self.tls_context or ssl.create_default_context()) if tls else None,
            timeout=self.timeout_s,
        )
        try:
            async with client:
                await client.publish(topic, payload, qos=qos, retain=retain, timeout=self.timeout_s)
        except aiomqtt.MqttCodeError as exc:
            if _code(exc) in REFUSED_CODES:
                raise NodeError(
                    f"{where} refused the connection: {exc}", type="mqtt_refused", retryable=False
                ) from None
            raise OperationalError(f"{where}: {exc}", type="mqtt_error") from None
        except aiomqtt.MqttError as exc:
            raise OperationalError(f"{where}: {exc}", type="mqtt_error") from None


def _code(exc: aiomqtt.MqttCodeError) -> int | None:
    rc = exc.rc
    value = getattr(rc, "value", rc)
    return value if isinstance(value, int) else None
