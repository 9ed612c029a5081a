"""Files over HTTP on SQLite and PostgreSQL: upload, metadata, download, delete, limits;
an upload as workflow input; files of executions deleted with them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import httpx
import pytest

from tav.app.server import Server
from tav.settings import Settings
from tests.api.helpers import run_to_end, stored
from tests.helpers import document, node

LIMIT = 64 * 1024
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_upload_bytes": LIMIT})


async def upload(
    client: httpx.AsyncClient, name: str, data: bytes, mime_type: str = "application/octet-stream"
) -> dict[str, Any]:
    response = await client.post("/api/v1/files", files={"file": (name, data, mime_type)})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_an_upload_is_described_and_downloaded(client: httpx.AsyncClient, server: Server):
    uploaded = await upload(client, "pixel.dat", PNG)

    file_id = uploaded["id"]
    assert uploaded["name"] == "pixel.dat"
    assert uploaded["mime_type"] == "image/png"  # by content, not by name
    assert uploaded["size"] == len(PNG)
    assert uploaded["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (uploaded["kind"], uploaded["execution_id"]) == ("upload", None)
    assert uploaded["url"] == f"/api/v1/files/{file_id}/content"
    assert uploaded["value"] == {
        "media": "v1",
        "kind": "image",
        "mime_type": "image/png",
        "uri": f"file:{file_id}",
        "name": "pixel.dat",
        "size": len(PNG),
        "metadata": {"file_id": file_id, "url": uploaded["url"], "sha256": uploaded["sha256"]},
    }
    assert (await client.get(f"/api/v1/files/{file_id}")).json() == uploaded
    assert (server.settings.data_dir / "files" / "uploads" / file_id).read_bytes() == PNG

    response = await client.get(uploaded["url"])
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"] == 'attachment; filename="pixel.dat"'
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_types_and_names_of_uploads(client: httpx.AsyncClient):
    csv = await upload(client, "../../secret/Bericht März.csv", b"a,b\n1,2\n")
    assert csv["name"] == "Bericht März.csv"
    assert csv["mime_type"] == "text/csv"
    html = await upload(client, "page.html", b"<script>alert(1)</script>", "text/html")

    response = await client.get(csv["url"])
    assert response.headers["content-disposition"] == (
        "attachment; filename*=utf-8''Bericht%20M%C3%A4rz.csv"
    )
    response = await client.get(html["url"])
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-disposition"].startswith("attachment;")


async def test_files_beyond_the_limit_get_413_and_leave_nothing(
    client: httpx.AsyncClient, server: Server
):
    for size in (LIMIT + 1, 3 * LIMIT):  # refused by the route, then before any route
        response = await client.post(
            "/api/v1/files", files={"file": ("big.bin", b"x" * size, "application/octet-stream")}
        )
        assert response.status_code == 413, size
        assert response.json()["error"]["code"] in {"file_too_large", "body_too_large"}

    assert (await client.get("/api/v1/files")).json()["total"] == 0
    uploads = server.settings.data_dir / "files" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    assert (
        await client.post("/api/v1/files", files={"file": ("ok.bin", b"x" * LIMIT)})
    ).status_code == 201


async def test_unknown_files_are_404(client: httpx.AsyncClient, server: Server):
    unknown = "0" * 32
    for response in (
        await client.get(f"/api/v1/files/{unknown}"),
        await client.get(f"/api/v1/files/{unknown}/content"),
        await client.delete(f"/api/v1/files/{unknown}"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    uploaded = await upload(client, "a.txt", b"a")
    (server.settings.data_dir / "files" / "uploads" / uploaded["id"]).unlink()
    response = await client.get(uploaded["url"])
    assert response.status_code == 404
    assert "missing" in response.json()["error"]["message"]


async def test_delete(client: httpx.AsyncClient, server: Server):
    uploaded = await upload(client, "a.txt", b"a")

    assert (await client.delete(f"/api/v1/files/{uploaded['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/files/{uploaded['id']}")).status_code == 404
    assert not (server.settings.data_dir / "files" / "uploads" / uploaded["id"]).exists()


async def test_list_is_newest_first_and_paged(client: httpx.AsyncClient):
    names = []
    for i in range(3):
        names.append((await upload(client, f"{i}.txt", b"x"))["name"])
        await asyncio.sleep(0.002)  # distinct creation times

    page = (await client.get("/api/v1/files", params={"limit": 2})).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    assert [item["name"] for item in page["items"]] == ["2.txt", "1.txt"]
    page = (await client.get("/api/v1/files", params={"limit": 2, "offset": 2})).json()
    assert [item["name"] for item in page["items"]] == ["0.txt"]
    assert (await client.get("/api/v1/files", params={"kind": "export"})).json()["total"] == 0
    assert (await client.get("/api/v1/files", params={"limit": 0})).status_code == 422


def reading_workflow() -> dict[str, Any]:
    """Reads the uploaded CSV, writes its rows as a file of the execution and exports them."""
    return document(
        node("start", "trigger.manual"),
        node("read", "file.read", params={"file": "{{ trigger.file }}"}),
        node("keep", "file.write", params={"name": "rows.json"}),
        node("export", "export.json"),
        node("out", "core.output", params={"value": "{{ nodes.read.output }}"}),
        links=("start -> read", "read -> keep", "read -> export", "read -> out"),
        name="read an upload",
    )


async def test_an_upload_is_workflow_input_read_by_file_read(
    client: httpx.AsyncClient, server: Server
):
    uploaded = await upload(client, "orders.csv", b"id,total\n1,9.50\n2,12\n")
    workflow_id = await stored(server, reading_workflow())

    execution = await run_to_end(client, workflow_id, input={"file": uploaded["value"]})

    assert execution["status"] == "succeeded", execution
    rows = [{"id": "1", "total": "9.50"}, {"id": "2", "total": "12"}]
    assert execution["output"] == rows
    written = execution["nodes"]["keep"]["outputs"]["output"]
    response = await client.get(written["metadata"]["url"])
    assert response.status_code == 200
    assert response.json() == rows
    files = (
        await client.get("/api/v1/files", params={"execution_id": execution["execution_id"]})
    ).json()
    assert sorted(item["kind"] for item in files["items"]) == ["execution", "export"]


async def test_files_of_a_pruned_execution_go_with_it(client: httpx.AsyncClient, server: Server):
    uploaded = await upload(client, "orders.csv", b"id\n1\n")
    workflow_id = await stored(server, reading_workflow())
    first = await run_to_end(client, workflow_id, input={"file": uploaded["value"]})
    second = await run_to_end(client, workflow_id, input={"file": uploaded["value"]})
    await server.parts.writer.flush()
    files = server.settings.data_dir / "files" / "executions"
    assert (files / first["execution_id"]).is_dir()

    server.settings = server.settings.model_copy(update={"retention_max_count": 1})
    assert await server.prune() == 1

    def kinds(execution: dict[str, Any]) -> list[str]:
        return sorted(item["kind"] for item in listing[execution["execution_id"]])

    listing: dict[str, list[dict[str, Any]]] = {}
    for execution in (first, second):
        response = await client.get(
            "/api/v1/files", params={"execution_id": execution["execution_id"]}
        )
        listing[execution["execution_id"]] = response.json()["items"]
    assert kinds(first) == ["export"]  # exports are kept until deleted
    assert kinds(second) == ["execution", "export"]
    assert not (files / first["execution_id"]).exists()
    assert (files / second["execution_id"]).is_dir()
    written = first["nodes"]["keep"]["outputs"]["output"]
    assert (await client.get(written["metadata"]["url"])).status_code == 404
    assert (await client.get(uploaded["url"])).status_code == 200


async def test_deleting_an_execution_deletes_its_files(client: httpx.AsyncClient, server: Server):
    uploaded = await upload(client, "orders.csv", b"id\n1\n")
    workflow_id = await stored(server, reading_workflow())
    execution = await run_to_end(client, workflow_id, input={"file": uploaded["value"]})
    await server.parts.writer.flush()

    response = await client.delete(f"/api/v1/executions/{execution['execution_id']}")

    assert response.status_code == 204
    files = (
        await client.get("/api/v1/files", params={"execution_id": execution["execution_id"]})
    ).json()
    assert [item["kind"] for item in files["items"]] == ["export"]
    executions = server.settings.data_dir / "files" / "executions"
    assert not (executions / execution["execution_id"]).exists()
