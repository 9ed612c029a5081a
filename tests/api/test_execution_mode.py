"""An execution's ``mode`` is a closed set: the OpenAPI document lists it as an enum, so a
client's types name every mode and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tav.api.app import create_app
from tav.core.modes import ExecutionMode
from tav.settings import Settings


async def _openapi(tmp_path: Path) -> dict[str, Any]:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


async def test_the_api_schema_lists_every_execution_mode(tmp_path: Path) -> None:
    schemas = (await _openapi(tmp_path))["components"]["schemas"]
    for model in ("ExecutionSummaryPublic", "ExecutionPublic"):
        ref = schemas[model]["properties"]["mode"]["$ref"]
        assert ref == "#/components/schemas/ExecutionMode", model
    mode = schemas["ExecutionMode"]
    assert mode["type"] == "string"
    assert mode["enum"] == [member.value for member in ExecutionMode]
