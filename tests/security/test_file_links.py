"""Nothing under ``files/`` is reached through a symbolic link: ``file.read``, downloads,
uploads and ``file.write`` refuse a link planted in place of a file or of a folder, and
never read or write what it points to."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tests.helpers import document, node

SECRET = b"the key that encrypts every credential"


def secret_file(server: Server) -> Path:
    path = server.settings.data_dir / "secret.key"
    path.write_bytes(SECRET)
    return path


def read_flow() -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("read", "file.read", params={"format": "text"}),
        node("out", "core.output"),
        links=("start -> read", "read -> out"),
    )


async def run(client: httpx.AsyncClient, server: Server, doc: dict[str, Any], input: Any) -> Any:
    workflow = await server.parts.workflows.create(doc)
    response = await client.post(
        f"/api/v1/workflows/{workflow.id}/run?wait=true", json={"input": input}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def upload(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/v1/files", files={"file": ("notes.txt", b"my notes")})
    assert response.status_code == 201, response.text
    return dict(response.json())


def plant_link(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


async def test_file_read_refuses_a_stored_file_replaced_by_a_link(
    client: httpx.AsyncClient, server: Server
) -> None:
    uploaded = await upload(client)
    plant_link(server.parts.files.root / "uploads" / uploaded["id"], secret_file(server))

    result = await run(client, server, read_flow(), uploaded["value"])

    assert result["status"] == "failed"
    assert "symbolic link" in result["nodes"]["read"]["error"]["message"]
    assert SECRET.decode() not in str(result)


async def test_file_read_refuses_a_folder_replaced_by_a_link(
    client: httpx.AsyncClient, server: Server, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    email = server.parts.files.root / "email"
    email.mkdir(parents=True)
    (email / "box").symlink_to(outside)
    value = {"media": "v1", "kind": "file", "mime_type": "text/plain",
             "uri": "files/email/box/secret.txt"}  # fmt: skip

    result = await run(client, server, read_flow(), value)

    assert result["status"] == "failed"
    assert "files/email/box is a symbolic link" in result["nodes"]["read"]["error"]["message"]
    assert SECRET.decode() not in str(result)


async def test_a_download_does_not_follow_a_link(client: httpx.AsyncClient, server: Server) -> None:
    uploaded = await upload(client)
    plant_link(server.parts.files.root / "uploads" / uploaded["id"], secret_file(server))

    response = await client.get(uploaded["url"])

    assert response.status_code == 404
    assert SECRET not in response.content


@pytest.mark.parametrize("folder", ["tmp", "uploads"])
async def test_an_upload_is_not_written_through_a_linked_folder(
    server: Server, tmp_path: Path, folder: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    server.parts.files.root.mkdir(parents=True, exist_ok=True)
    (server.parts.files.root / folder).symlink_to(outside)

    with pytest.raises(OSError, match=f"files/{folder} is a symbolic link"):
        await server.parts.files.add_stream(io.BytesIO(b"planted?"), name="a.txt", kind="upload")

    assert list(outside.iterdir()) == []
    assert await server.parts.files.find() == ([], 0)


async def test_file_write_is_not_written_through_a_linked_folder(
    client: httpx.AsyncClient, server: Server, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    server.parts.files.root.mkdir(parents=True, exist_ok=True)
    (server.parts.files.root / "executions").symlink_to(outside)
    doc = document(
        node("start", "trigger.manual"),
        node("write", "file.write", params={"content": "hello", "name": "a.txt"}),
        links=("start -> write",),
    )

    result = await run(client, server, doc, None)

    assert result["status"] == "failed"
    assert [p for p in outside.rglob("*") if p.is_file()] == []


async def test_a_fifo_in_place_of_a_file_is_refused_without_hanging(
    client: httpx.AsyncClient, server: Server
) -> None:
    uploaded = await upload(client)
    path = server.parts.files.root / "uploads" / uploaded["id"]
    path.unlink()
    os.mkfifo(path)

    result = await run(client, server, read_flow(), uploaded["value"])

    assert result["status"] == "failed"
    assert "not a regular file" in result["nodes"]["read"]["error"]["message"]
