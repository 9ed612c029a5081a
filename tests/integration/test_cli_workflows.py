"""``tav workflows activate/deactivate`` as a user runs them, while a server runs on the
same data dir: the server arms and disarms the triggers within ``TAV_TRIGGER_SYNC_S``."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tav.app.server import Server
from tav.settings import Settings
from tav.triggers import WebhookError
from tests.helpers import document, node
from tests.integration.triggers import wait_for


def _flow(name: str, path: str = "orders") -> dict:
    return document(node("hook", "trigger.webhook", params={"path": path}), name=name)


PLUGINS = Path(__file__).resolve().parents[1] / "fakes" / "plugins"
"""A TAV_NODES_PATH folder: ``tick.py`` has a trigger node (``acme.tick``) and its kind."""


async def _tav(config: Settings, *args: str, **env: str) -> tuple[int, str, str]:
    environment = {**os.environ, "TAV_DATA_DIR": str(config.data_dir), **env}
    environment.pop("TAV_DATABASE_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tav",
        *args,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _armed(server: Server, path: str) -> str | None:
    try:
        return server.parts.triggers.webhooks.resolve("POST", path).target.workflow.id
    except WebhookError:
        return None


async def test_activate_and_deactivate_from_the_cli(server: Server, config: Settings):
    first = await server.parts.workflows.create(_flow("first"))
    second = await server.parts.workflows.create(_flow("second"))
    by_hand = await server.parts.workflows.create(
        document(node("start", "trigger.manual"), name="by hand")
    )

    code, _, err = await _tav(config, "workflows", "activate", first.id)
    assert code == 0, err
    assert "'first' is active" in err
    await wait_for(lambda: _armed(server, "orders") == first.id)

    code, _, err = await _tav(config, "workflows", "activate", second.id)
    assert code == 1
    assert "already used by active workflow 'first'" in err
    code, _, err = await _tav(config, "workflows", "activate", by_hand.id)
    assert code == 1
    assert "no trigger to activate" in err

    code, out, _ = await _tav(config, "workflows", "list")
    assert f"{first.id}  active" in out
    assert f"{second.id}  inactive" in out

    code, _, err = await _tav(config, "workflows", "deactivate", first.id)
    assert code == 0, err
    await wait_for(lambda: _armed(server, "orders") is None)
    code, _, _ = await _tav(config, "workflows", "activate", "0" * 32)
    assert code == 1


async def test_the_cli_activates_a_trigger_of_a_kind_a_plugin_adds(
    server: Server, config: Settings
):
    ticking = await server.parts.workflows.create(
        document(node("tick", "acme.tick", params={"count": 1}), name="ticking")
    )

    code, _, err = await _tav(config, "workflows", "activate", ticking.id)
    assert code == 1  # without the plugin, neither the node type nor its kind is known
    assert "unknown node type 'acme.tick'" in err

    code, _, err = await _tav(
        config, "workflows", "activate", ticking.id, TAV_NODES_PATH=str(PLUGINS)
    )
    assert code == 0, err
    assert "'ticking' is active" in err
