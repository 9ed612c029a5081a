"""A ``SandboxRunner`` with small limits, under the real bubblewrap of this machine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tav.nodes.code import CodeJob
from tav.sandbox.config import Limits, SandboxConfig
from tav.sandbox.runner import SandboxRunner

LIMITS = Limits(
    timeout_s=10,
    cpu_s=2,
    memory_bytes=256 * 1024 * 1024,
    processes=16,
    open_files=64,
    log_bytes=64 * 1024,
    result_bytes=256 * 1024,
    tmp_bytes=4 * 1024 * 1024,
)


@pytest.fixture
def config() -> SandboxConfig:
    return SandboxConfig(limits=LIMITS, warm=1)


@pytest.fixture
async def runner(config: SandboxConfig) -> AsyncIterator[SandboxRunner]:
    runner = SandboxRunner(config)
    yield runner
    await runner.aclose()


def job(code: str, input: Any = None, **fields: Any) -> CodeJob:
    """A job of ``code``; ``trigger``, ``vars``, ``nodes`` and ``network`` by name."""
    return CodeJob(
        code=code,
        input=input,
        trigger=fields.get("trigger"),
        vars=fields.get("vars", {}),
        nodes=fields.get("nodes", {}),
        network=fields.get("network", False),
    )


class Log:
    """What the code printed, as the runner passed it on."""

    def __init__(self) -> None:
        self.pieces: list[str] = []

    def __call__(self, text: str) -> None:
        self.pieces.append(text)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


async def run(runner: SandboxRunner, code: str, input: Any = None, **fields: Any) -> Any:
    return await runner.run(job(code, input, **fields), Log())
