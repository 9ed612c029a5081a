"""The sandbox under uvloop, the event loop ``tav serve`` runs on (uvicorn's): its
subprocess transports are not asyncio's."""

from __future__ import annotations

import asyncio

import pytest

from tav.core.errors import NodeError
from tav.sandbox.config import SandboxConfig
from tav.sandbox.runner import SandboxRunner
from tests.unit.sandbox.conftest import LIMITS, Log, job

uvloop = pytest.importorskip("uvloop")


async def scenario() -> dict[str, object]:
    runner = SandboxRunner(SandboxConfig(limits=LIMITS, warm=1))
    seen: dict[str, object] = {}
    try:
        log = Log()
        code = "def main(input):\n    print('hi')\n    return nodes['a']['output'] + input\n"
        seen["value"] = await runner.run(job(code, 1, nodes={"a": {"output": 41}}), log)
        seen["log"] = log.text
        for name, code in {
            "error": "def main(input):\n    return 1 / 0\n",
            "flood": "def main(input):\n    while True:\n        print('x' * 4096)\n",
        }.items():
            try:
                await runner.run(job(code), Log())
            except NodeError as exc:
                seen[name] = exc.type
        task = asyncio.create_task(
            runner.run(job("import time\ndef main(i):\n    time.sleep(60)\n"), Log())
        )
        await asyncio.sleep(0.3)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            seen["cancelled"] = True
    finally:
        await runner.aclose()
    return seen


def test_code_runs_and_fails_the_same_under_uvloop():
    assert uvloop.run(scenario()) == {
        "value": 42,
        "log": "hi\n",
        "error": "code_error",
        "flood": "output_limit",
        "cancelled": True,
    }
