"""/api/v1/credentials: CRUD where secrets are write-only, kinds, errors, encryption at rest."""

from __future__ import annotations

import json

import httpx
import pytest

from tav.app.server import Server
from tests.api.helpers import stored
from tests.helpers import document, node

SECRET = "sk-test-Very-Secret-0123456789"
BASE = "/api/v1/credentials"


async def _create(client: httpx.AsyncClient, **body: object) -> dict:
    body = {"name": "openai main", "kind": "openai", "data": {"api_key": SECRET}, **body}
    response = await client.post(BASE, json=body)
    assert response.status_code == 201, response.text
    assert SECRET not in response.text
    return response.json()


async def test_create_returns_names_of_fields_never_values(client: httpx.AsyncClient):
    data = {"api_key": SECRET, "base_url": "http://127.0.0.1:9/v1"}
    created = await _create(client, data=data)
    assert created["name"] == "openai main"
    assert created["kind"] == "openai"
    assert created["fields"] == ["api_key", "base_url"]
    assert set(created) == {"id", "name", "kind", "fields", "created_at", "updated_at"}
    assert "127.0.0.1:9" not in json.dumps(created)


async def test_list_and_get_show_no_secret(client: httpx.AsyncClient):
    created = await _create(client)
    listed = await client.get(BASE)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()] == [created["id"]]
    got = await client.get(f"{BASE}/{created['id']}")
    assert got.status_code == 200
    assert got.json() == created
    assert SECRET not in listed.text + got.text


async def test_update_renames_and_keeps_omitted_fields(client: httpx.AsyncClient, server: Server):
    created = await _create(client, data={"api_key": SECRET, "organization": "org-1"})
    renamed = await client.put(f"{BASE}/{created['id']}", json={"name": "renamed"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "renamed"
    assert await server.parts.credentials.data(created["id"]) == {
        "api_key": SECRET,
        "organization": "org-1",
    }
    changed = await client.put(
        f"{BASE}/{created['id']}", json={"data": {"organization": None, "base_url": "http://x"}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["fields"] == ["api_key", "base_url"]
    assert SECRET not in changed.text
    assert await server.parts.credentials.data(created["id"]) == {
        "api_key": SECRET,
        "base_url": "http://x",
    }


async def test_delete(client: httpx.AsyncClient):
    created = await _create(client)
    assert (await client.delete(f"{BASE}/{created['id']}")).status_code == 204
    assert (await client.get(f"{BASE}/{created['id']}")).status_code == 404
    assert (await client.delete(f"{BASE}/{created['id']}")).status_code == 404


async def test_kinds_mark_secret_fields(client: httpx.AsyncClient):
    response = await client.get(f"{BASE}/kinds")
    assert response.status_code == 200
    kinds = {kind["kind"]: kind for kind in response.json()}
    assert set(kinds) == {
        "mcp_server",
        "api_key",
        "basic",
        "bearer",
        "smtp",
        "imap",
        "slack",
        "discord",
        "telegram",
        "hmac",
        "openai",
        "anthropic",
        "google",
        "ollama",
        "openai_compatible",
    }
    openai = kinds["openai"]["schema"]["properties"]
    assert openai["api_key"]["secret"] is True
    assert "secret" not in openai["base_url"]
    assert kinds["basic"]["secret_fields"] == ["password"]
    assert kinds["smtp"]["schema"]["required"] == ["host"]


async def test_kinds_say_which_are_llm_providers_as_their_records_do(client: httpx.AsyncClient):
    from tav.ai.providers import PROVIDERS

    kinds = {kind["kind"]: kind for kind in (await client.get(f"{BASE}/kinds")).json()}

    providers = {name: kind["provider"] for name, kind in kinds.items() if kind["provider"]}
    assert list(providers) == [p.kind for p in PROVIDERS]
    assert providers["anthropic"] == {
        "title": "Anthropic",
        "api": "anthropic",
        "chat": True,
        "embeddings": False,
        "default_base_url": "https://api.anthropic.com",
    }
    assert providers["openai_compatible"]["default_base_url"] is None
    assert kinds["smtp"]["provider"] is None
    created = await client.post(
        BASE, json={"name": "local", "kind": "openai_compatible", "data": {"base_url": "x"}}
    )
    assert created.status_code == 201, created.text


async def test_unknown_kind_is_422(client: httpx.AsyncClient):
    response = await client.post(BASE, json={"name": "x", "kind": "nope", "data": {}})
    assert response.status_code == 422
    assert any(d["location"] == "body.kind" for d in response.json()["error"]["details"])


async def test_invalid_data_is_422_naming_the_field_without_its_value(client: httpx.AsyncClient):
    response = await client.post(
        BASE,
        json={"name": "x", "kind": "smtp", "data": {"host": "h", "port": SECRET, "bogus": 1}},
    )
    assert response.status_code == 422
    locations = {d["location"] for d in response.json()["error"]["details"]}
    assert locations == {"body.data.port", "body.data.bogus"}
    assert SECRET not in response.text
    missing = await client.post(BASE, json={"name": "y", "kind": "basic", "data": {}})
    assert {d["location"] for d in missing.json()["error"]["details"]} == {
        "body.data.username",
        "body.data.password",
    }


async def test_invalid_update_is_422(client: httpx.AsyncClient):
    created = await _create(client)
    response = await client.put(f"{BASE}/{created['id']}", json={"data": {"api_key": ""}})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["location"] == "body.data.api_key"


async def test_duplicate_name_is_409(client: httpx.AsyncClient):
    await _create(client)
    response = await client.post(
        BASE, json={"name": "openai main", "kind": "bearer", "data": {"token": "t0ken"}}
    )
    assert response.status_code == 409
    other = await _create(client, name="other")
    renamed = await client.put(f"{BASE}/{other['id']}", json={"name": "openai main"})
    assert renamed.status_code == 409


async def test_unknown_id_is_404(client: httpx.AsyncClient):
    for method in ("GET", "DELETE"):
        assert (await client.request(method, f"{BASE}/0")).status_code == 404
    assert (await client.put(f"{BASE}/nope", json={"name": "a"})).status_code == 404


async def test_every_route_needs_auth(anonymous: httpx.AsyncClient):
    for method, path in [
        ("GET", BASE),
        ("POST", BASE),
        ("GET", f"{BASE}/kinds"),
        ("GET", f"{BASE}/x"),
        ("PUT", f"{BASE}/x"),
        ("DELETE", f"{BASE}/x"),
    ]:
        assert (await anonymous.request(method, path)).status_code == 401, (method, path)


async def test_secrets_are_redacted_once_known(client: httpx.AsyncClient, server: Server):
    await _create(client)
    assert server.parts.vault.redact(f"calling with {SECRET}!") == "calling with ***!"


async def test_the_sqlite_file_holds_no_plaintext_secret(
    client: httpx.AsyncClient, server: Server, database: str
):
    if database != "sqlite":
        pytest.skip("reads the SQLite file")
    smtp = {"host": "mail.test", "username": "ada", "password": "hunter2-Pa55word-xyz"}
    await _create(client)
    await _create(client, name="mail", kind="smtp", data=smtp)
    await server.parts.db.reclaim_space()  # the WAL checkpointed into the file too
    files = list(server.settings.data_dir.glob("tav.db*"))
    assert files
    raw = b"".join(path.read_bytes() for path in files)
    assert b"openai main" in raw  # the names are stored in clear: the test reads the right file
    for secret in (SECRET, smtp["password"]):
        assert secret.encode() not in raw


async def test_a_node_using_a_credential_leaks_it_nowhere(
    client: httpx.AsyncClient, server: Server, database: str
):
    credential = await _create(client)
    doc = document(
        node("start", "trigger.manual"),
        node("leak", "test.leak", params={"credential": credential["id"]}),
        node("out", "core.output"),
        links=("start -> leak", "leak -> out"),
    )
    workflow_id = await stored(server, doc)
    response = await client.post(f"/api/v1/workflows/{workflow_id}/run?wait=true", json={})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "succeeded"
    assert result["output"]["data"]["api_key"] == "***"
    execution_id = result["execution_id"]
    stream = await client.get(f"/api/v1/executions/{execution_id}/stream")
    assert '"leaked"' in stream.text
    stored_result = await client.get(f"/api/v1/executions/{execution_id}")
    for text in (response.text, stream.text, stored_result.text):
        assert SECRET not in text
    if database == "sqlite":
        await server.parts.writer.flush()
        await server.parts.db.reclaim_space()
        raw = b"".join(p.read_bytes() for p in server.settings.data_dir.glob("tav.db*"))
        assert SECRET.encode() not in raw
