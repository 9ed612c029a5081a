"""Sub-workflow refs on the server name stored workflows only: a path would let an editor
run (or have an agent describe) any workflow file the server's process can read. ``tav
run`` keeps refs relative to its workflow file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tav.core.errors import NotFound
from tests.helpers import document, node

NOT_STORED = "is not a stored workflow id; file paths are only allowed with `tav run`"


def file_workflow(folder: Path, name: str = "on-disk.json") -> Path:
    """A workflow file the server's process can read, that answers ``"ran from disk"``."""
    path = folder / name
    doc = document(
        node("start", "trigger.manual"),
        node("set", "core.set", params={"values": {"said": "ran from disk"}}),
        node("out", "core.output"),
        links=("start -> set", "set -> out"),
    )
    path.write_text(json.dumps(doc))
    return path


def caller(ref: str, node_type: str = "core.subworkflow") -> dict[str, Any]:
    params = {"workflow": ref}
    if node_type == "core.map":
        params["items"] = [1]
    return document(
        node("start", "trigger.manual"),
        node("call", node_type, params=params),
        node("out", "core.output"),
        links=("start -> call", "call -> out"),
        name="caller",
    )


async def test_a_templated_ref_to_a_file_fails_the_node_without_reading_it(
    client: httpx.AsyncClient, server: Server, tmp_path: Path
) -> None:
    target = file_workflow(tmp_path)
    stored = await server.parts.workflows.create(caller("{{ trigger.ref }}"))

    response = await client.post(
        f"/api/v1/workflows/{stored.id}/run?wait=true", json={"input": {"ref": str(target)}}
    )

    result = response.json()
    assert result["status"] == "failed", result
    error = result["nodes"]["call"]["error"]
    assert error["message"] == f"sub-workflow {str(target)!r} {NOT_STORED}"
    assert "ran from disk" not in response.text


@pytest.mark.parametrize("node_type", ["core.subworkflow", "core.map"])
async def test_saving_a_workflow_with_a_file_ref_is_refused_with_its_location(
    client: httpx.AsyncClient, tmp_path: Path, node_type: str
) -> None:
    target = file_workflow(tmp_path)

    response = await client.post("/api/v1/workflows", json=caller(str(target), node_type))

    assert response.status_code == 422, response.text
    problems = response.json()["error"]["details"]
    assert [(p["node"], p["field"]) for p in problems] == [("call", "params.workflow")]
    assert NOT_STORED in problems[0]["message"]


async def test_a_relative_ref_is_refused_too(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/workflows", json=caller("../../etc/flow.yaml"))

    assert response.status_code == 422, response.text


async def test_an_agent_tool_cannot_describe_a_file(server: Server, tmp_path: Path) -> None:
    target = file_workflow(tmp_path)

    with pytest.raises(NotFound, match="file paths are only allowed"):
        await server.parts.loader.describe(str(target))


async def test_stored_ids_still_run(client: httpx.AsyncClient, server: Server) -> None:
    inner = await server.parts.workflows.create(
        document(
            node("start", "trigger.manual"), node("out", "core.output"), links=("start -> out",)
        )
    )
    outer = await server.parts.workflows.create(caller(inner.id))

    response = await client.post(f"/api/v1/workflows/{outer.id}/run?wait=true", json={"input": 7})

    assert response.json()["status"] == "succeeded", response.text


def test_tav_run_keeps_file_refs_relative_to_its_file(tmp_path: Path) -> None:
    file_workflow(tmp_path, "child.json")
    parent = tmp_path / "parent.json"
    parent.write_text(json.dumps(caller("child.json")))

    proc = subprocess.run(
        [sys.executable, "-m", "tav", "run", str(parent), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path.parent,  # not the file's folder: refs are relative to the file
        env={**os.environ, "TAV_DATA_DIR": str(tmp_path / "data")},
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == {"said": "ran from disk"}
