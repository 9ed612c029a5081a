"""The ``mcp_server`` credential kind: its shapes, and who may write one that runs a
command on the server's machine (owners and admins only)."""

from __future__ import annotations

import pytest

from tav.core.roles import Role
from tests.api.team import as_key

STDIO = {"transport": "stdio", "command": "/usr/bin/true", "args": ["--serve"]}
HTTP = {
    "transport": "http",
    "url": "http://127.0.0.1:9/mcp",
    "headers": {"Authorization": "Bearer s3cret-header"},
}


@pytest.fixture
def database() -> str:
    return "sqlite"


async def test_an_editor_may_not_create_a_stdio_server(app, team):
    async with as_key(app, team[Role.editor].key) as editor:
        answer = await editor.post(
            "/api/v1/credentials", json={"name": "local", "kind": "mcp_server", "data": STDIO}
        )
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == "forbidden"
    assert "owners and admins" in error["message"]
    assert "stdio" in error["message"]


@pytest.mark.parametrize("role", [Role.owner, Role.admin])
async def test_owners_and_admins_create_stdio_servers(app, team, role):
    async with as_key(app, team[role].key) as member:
        answer = await member.post(
            "/api/v1/credentials", json={"name": "local", "kind": "mcp_server", "data": STDIO}
        )
    assert answer.status_code == 201, answer.text
    assert "command" in answer.json()["fields"]


async def test_an_editor_may_not_change_a_stdio_server_but_may_rename_it(app, team):
    async with as_key(app, team[Role.admin].key) as admin:
        made = await admin.post(
            "/api/v1/credentials", json={"name": "local", "kind": "mcp_server", "data": STDIO}
        )
    path = f"/api/v1/credentials/{made.json()['id']}"
    async with as_key(app, team[Role.editor].key) as editor:
        changed = await editor.put(path, json={"data": {"command": "/bin/sh"}})
        renamed = await editor.put(path, json={"name": "renamed"})
    assert changed.status_code == 403, changed.text
    assert renamed.status_code == 200, renamed.text


async def test_an_editor_creates_an_http_server_and_never_sees_its_headers(app, team):
    async with as_key(app, team[Role.editor].key) as editor:
        made = await editor.post(
            "/api/v1/credentials", json={"name": "remote", "kind": "mcp_server", "data": HTTP}
        )
        assert made.status_code == 201, made.text
        read = await editor.get(f"/api/v1/credentials/{made.json()['id']}")
        # ... nor turn it into a command
        turned = await editor.put(
            f"/api/v1/credentials/{made.json()['id']}",
            json={"data": {"transport": "stdio", "command": "/bin/sh", "url": None}},
        )
    assert "s3cret-header" not in made.text + read.text
    assert turned.status_code == 403, turned.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"transport": "http"}, "needs its url"),
        ({"transport": "stdio"}, "needs its command"),
        ({"transport": "http", "url": "http://h/mcp", "command": "x"}, "not for a http"),
        ({"transport": "stdio", "command": "x", "paths": ["relative"]}, "absolute"),
        ({"transport": "http", "url": "http://h/mcp", "memory_mb": 64}, "memory_mb: not for"),
        ({"transport": "stdio", "command": "x", "memory_mb": 8}, "greater than or equal to 16"),
        ({"transport": "stdio", "command": "x", "cpu_s": 0}, "greater than or equal to 1"),
    ],
)
async def test_a_server_of_the_wrong_shape_is_refused(app, team, data, message):
    async with as_key(app, team[Role.owner].key) as owner:
        answer = await owner.post(
            "/api/v1/credentials", json={"name": "bad", "kind": "mcp_server", "data": data}
        )
    assert answer.status_code == 422
    assert message in answer.text


async def test_the_kind_is_listed_with_its_secret_fields(app, team):
    async with as_key(app, team[Role.viewer].key) as viewer:
        kinds = (await viewer.get("/api/v1/credentials/kinds")).json()
    (kind,) = [k for k in kinds if k["kind"] == "mcp_server"]
    assert kind["secret_fields"] == ["access_token", "env", "headers"]


async def test_a_viewer_may_not_list_a_servers_tools(app, team):
    async with as_key(app, team[Role.viewer].key) as viewer:
        answer = await viewer.get("/api/v1/credentials/x/mcp-tools")
    assert answer.status_code == 403


async def test_a_limit_above_the_hosts_maximum_is_refused_when_saved(app, team):
    data = {"transport": "stdio", "command": "x", "memory_mb": 4096}
    async with as_key(app, team[Role.owner].key) as owner:
        created = await owner.post(
            "/api/v1/credentials", json={"name": "big", "kind": "mcp_server", "data": data}
        )
        within = await owner.post(
            "/api/v1/credentials",
            json={"name": "ok", "kind": "mcp_server", "data": {**data, "memory_mb": 1024}},
        )
        changed = await owner.put(
            f"/api/v1/credentials/{within.json()['id']}", json={"data": {"cpu_s": 7200}}
        )

    assert created.status_code == 422
    error = created.json()["error"]
    assert error["message"] == (
        "data.memory_mb: 4096 is more than this server allows (TAV_MCP_MAX_MEMORY_MB=2048)"
    )
    assert error["details"][0]["location"] == "body.data.memory_mb"
    assert within.status_code == 201, within.text
    assert changed.status_code == 422
    assert "TAV_MCP_MAX_CPU_S=3600" in changed.text
