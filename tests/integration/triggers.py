"""A server on a tmp SQLite data dir with fast trigger sync, for trigger integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tav.app.server import Server
from tav.settings import Settings


def settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=None,
        retention_max_age_days=None,
        retention_max_count=None,
        trigger_sync_s=0.1,
        **extra,
    )


async def inputs(server: Server, workflow_id: str, count: int, within_s: float = 10) -> list[Any]:
    """The trigger payloads of the workflow's first ``count`` executions, oldest first,
    once there are that many (in real time, at most ``within_s``)."""
    async with asyncio.timeout(within_s):
        while True:
            await server.parts.writer.flush()
            found, total = await server.parts.executions.find(workflow_id=workflow_id, limit=100)
            if total >= count:
                break
            await asyncio.sleep(0.02)
    payloads = []
    for summary in sorted(found, key=lambda s: s.started_at)[:count]:
        record = await server.parts.executions.get(summary.execution_id)
        assert record is not None
        payloads.append(record.input)
    return payloads


async def wait_for(check: Callable[[], bool], within_s: float = 10) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if check():
                return
            await asyncio.sleep(0.01)
