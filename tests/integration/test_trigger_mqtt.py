"""``trigger.mqtt`` against real brokers: the machine's Mosquitto on 127.0.0.1:1883, and a
Mosquitto of the test's own (stopped and started again to check reconnecting)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tav.app.server import Server
from tests.helpers import document, node
from tests.integration.triggers import inputs, wait_for

BROKER = ("127.0.0.1", 1883)


def mqtt_flow(topic: str, **params: Any) -> dict[str, Any]:
    return document(
        node("message", "trigger.mqtt", params={"topic": topic, **params}),
        node("result", "core.output"),
        links=("message -> result",),
        name="mqtt",
    )


async def publish(topic: str, payload: bytes, *, port: int = BROKER[1], **options: Any) -> None:
    async with aiomqtt.Client(BROKER[0], port) as client:
        await client.publish(topic, payload, **options)


def _subscribed(server: Server, workflow_id: str) -> bool:
    armed = server.parts.triggers.armed.get(workflow_id)
    return armed is not None and all(getattr(t, "connected", False) for t in armed.armed.values())


async def test_each_message_starts_a_run(server: Server):
    base = f"tav-test/{uuid.uuid4().hex}"
    workflow = await server.parts.workflows.create(mqtt_flow(f"{base}/+/temperature", qos=1))
    await server.parts.triggers.activate(workflow.id)
    await wait_for(lambda: _subscribed(server, workflow.id))

    await publish(f"{base}/kitchen/temperature", b'{"celsius": 21.5}', qos=1)
    await publish(f"{base}/cellar/temperature", b"cold", qos=0)
    await publish(f"{base}/cellar/humidity", b"ignored")
    payloads = await inputs(server, workflow.id, 2)
    assert payloads == [
        {
            "topic": f"{base}/kitchen/temperature",
            "payload": {"celsius": 21.5},
            "qos": 1,
            "retain": False,
        },
        {"topic": f"{base}/cellar/temperature", "payload": "cold", "qos": 0, "retain": False},
    ]
    await server.parts.triggers.deactivate(workflow.id)
    await publish(f"{base}/attic/temperature", b"1")
    await server.parts.writer.flush()
    assert (await server.parts.executions.find(workflow_id=workflow.id))[1] == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mosquitto:
    """A Mosquitto broker of the test's own on a free port of 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.skip("mosquitto is not installed")
    mosquitto = Mosquitto(tmp_path)
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


async def test_reconnects_after_the_broker_comes_back(server: Server, broker: Mosquitto):
    topic = f"tav-test/{uuid.uuid4().hex}"
    workflow = await server.parts.workflows.create(mqtt_flow(topic, port=broker.port))
    await server.parts.triggers.activate(workflow.id)
    await wait_for(lambda: _subscribed(server, workflow.id))
    broker.stop()
    await wait_for(lambda: not _subscribed(server, workflow.id))
    broker.start()
    await wait_for(lambda: _subscribed(server, workflow.id), within_s=20)
    await publish(topic, b"[1, 2]", port=broker.port)
    payloads = await inputs(server, workflow.id, 1)
    assert payloads[0]["payload"] == [1, 2]


async def test_a_payload_that_cannot_be_read_as_json_keeps_the_connection(
    server: Server, caplog: pytest.LogCaptureFixture
):
    """JSON nested too deeply to read, or ``NaN``, arrives as its text; the subscription
    stays connected and takes the next message."""
    base = f"tav-test/{uuid.uuid4().hex}"
    workflow = await server.parts.workflows.create(mqtt_flow(f"{base}/#", qos=1))
    await server.parts.triggers.activate(workflow.id)
    await wait_for(lambda: _subscribed(server, workflow.id))
    deep = b"[" * 100_000 + b"]" * 100_000

    await publish(f"{base}/deep", deep, qos=1)
    await publish(f"{base}/nan", b'{"value": NaN}', qos=1)
    await publish(f"{base}/fine", b'{"ok": true}', qos=1)
    payloads = await inputs(server, workflow.id, 3)

    assert [p["payload"] for p in payloads] == [deep.decode(), '{"value": NaN}', {"ok": True}]
    assert "reconnecting" not in caplog.text
