"""An execution's ``mode`` is a closed set: the OpenAPI document lists it as an enum, so a
client's types name every mode and nothing else. A run request may name ``editor`` (the
editor's runs) or ``api``, and no mode the server records for what it starts itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import httpx

from tav.api.app import create_app
from tav.core.modes import ExecutionMode, RunRequestMode
from tav.settings import Settings
from tests.api.helpers import chain, run_to_end, stored


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


# -- the editor's runs ------------------------------------------------------------------


async def test_a_run_request_from_the_editor_is_recorded_as_such(client, server):
    workflow_id = await stored(server, chain(0))
    by_editor = await run_to_end(client, workflow_id, mode="editor")
    by_script = await run_to_end(client, workflow_id)

    assert by_editor["mode"] == "editor"
    assert by_script["mode"] == "api"
    got = await client.get(f"/api/v1/executions/{by_editor['execution_id']}")
    assert got.json()["mode"] == "editor"
    listed = (await client.get("/api/v1/executions", params={"mode": "editor"})).json()
    assert [e["execution_id"] for e in listed["items"]] == [by_editor["execution_id"]]


async def test_a_run_from_a_node_in_the_editor_is_recorded_as_the_editors(client, server):
    workflow_id = await stored(server, chain(0, 0))
    first = await run_to_end(client, workflow_id, mode="editor")
    again = await run_to_end(
        client, workflow_id, from_execution=first["execution_id"], start_at=["d2"], mode="editor"
    )
    assert again["mode"] == "editor"
    assert again["nodes"]["d1"].get("reused") is True


async def test_a_run_request_cannot_claim_a_mode_the_server_records(client, server):
    workflow_id = await stored(server, chain(0))
    for mode in [m.value for m in ExecutionMode if m not in get_args(RunRequestMode)]:
        response = await client.post(f"/api/v1/workflows/{workflow_id}/run", json={"mode": mode})
        assert response.status_code == 422, mode
        assert response.json()["error"]["code"] == "request_invalid"
    for mode in ("EDITOR", "", None, 1):
        response = await client.post(f"/api/v1/workflows/{workflow_id}/run", json={"mode": mode})
        assert response.status_code == 422, mode
    assert (await client.get("/api/v1/executions")).json()["total"] == 0


async def test_the_api_schema_lists_the_two_modes_a_run_request_may_name(tmp_path: Path) -> None:
    schemas = (await _openapi(tmp_path))["components"]["schemas"]
    mode = schemas["RunRequest"]["properties"]["mode"]
    assert mode["enum"] == ["api", "editor"]
    assert mode["default"] == "api"
