"""What roles keep out, over HTTP through the app:

- a disabled member's session and API key get 401 on the very next request (a key that
  was just used, and so is cached, too), and the listeners of disabled users hear of it;
- a viewer reads no credential data (names and kinds only) and changes no credential;
- an editor manages no users: every route of the team refuses them, and nothing changes;
- an admin neither demotes nor disables the owner, nor makes anyone owner;
- an invite link is used once, even by two people at the same moment, and not after it
  expired;
- invite tokens and passwords appear in no response (but the link, once, to whoever
  invited), no log line (the server's and uvicorn's access log), and nowhere in the
  database.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import inspect, text

from tav.api.app import create_app
from tav.app.server import Server
from tav.app.users import Actor
from tav.core.errors import Forbidden
from tav.core.roles import Role
from tests.api.team import PASSWORD, Member, as_key, browser, make_team, signed_in

CANARY_PASSWORD = "canary-password-7f3a91"


@pytest.fixture
async def team(server: Server) -> dict[Role, Member]:
    return await make_team(server)


@pytest.fixture
def app(server: Server) -> FastAPI:
    return create_app(server.settings, server=server)


async def test_a_disabled_members_session_and_key_are_refused_at_once(
    app: FastAPI, server: Server, team: dict[Role, Member]
) -> None:
    editor = team[Role.editor]
    heard: list[str] = []

    async def listener(user_id: str) -> None:
        heard.append(user_id)

    server.parts.users_service.on_disabled(listener)
    async with (
        signed_in(app, editor.email) as session,
        as_key(app, editor.key) as key,
        as_key(app, team[Role.admin].key) as admin,
    ):
        assert (await session.get("/api/v1/workflows")).status_code == 200
        assert (await key.get("/api/v1/workflows")).status_code == 200  # cached from now on
        disabled = await admin.post(f"/api/v1/users/{editor.id}/disable")
        assert disabled.status_code == 200, disabled.text
        assert heard == [editor.id]
        assert (await key.get("/api/v1/workflows")).status_code == 401
        assert (await session.get("/api/v1/workflows")).status_code == 401
        assert (await session.get("/api/v1/auth/me")).status_code == 401
        status = (await session.get("/api/v1/auth/status")).json()
        assert status["user"] is None


async def test_a_failing_listener_does_not_keep_the_others_from_hearing(
    server: Server, team: dict[Role, Member]
) -> None:
    heard: list[str] = []

    async def failing(user_id: str) -> None:
        raise RuntimeError("boom")

    async def listening(user_id: str) -> None:
        heard.append(user_id)

    server.parts.users_service.on_disabled(failing)
    server.parts.users_service.on_disabled(listening)
    await server.parts.users_service.disable(team[Role.viewer].id)
    assert heard == [team[Role.viewer].id]


async def test_a_viewer_reads_no_credential_data_and_changes_no_credential(
    app: FastAPI, team: dict[Role, Member]
) -> None:
    data = {
        "host": "smtp.hidden-host.example",
        "username": "hidden-username",
        "password": "hidden-password",
    }
    async with as_key(app, team[Role.editor].key) as editor:
        created = await editor.post(
            "/api/v1/credentials", json={"name": "mail", "kind": "smtp", "data": data}
        )
        assert created.status_code == 201, created.text
    credential_id = created.json()["id"]
    async with as_key(app, team[Role.viewer].key) as viewer:
        seen = []
        for path in (
            "/api/v1/credentials",
            f"/api/v1/credentials/{credential_id}",
            "/api/v1/credentials/kinds",
            "/api/v1/settings",
        ):
            response = await viewer.get(path)
            assert response.status_code == 200, (path, response.text)
            seen.append(response.text)
        assert [c["name"] for c in (await viewer.get("/api/v1/credentials")).json()] == ["mail"]
        for value in data.values():
            assert all(value not in text for text in seen), value
        body = {"name": "stolen", "data": {"host": "evil.example"}}
        for method, path in (
            ("POST", "/api/v1/credentials"),
            ("PUT", f"/api/v1/credentials/{credential_id}"),
            ("DELETE", f"/api/v1/credentials/{credential_id}"),
        ):
            response = await viewer.request(method, path, json=body)
            assert response.status_code == 403, (method, path)
            assert response.json()["error"]["details"]["required_role"] == "editor"


async def test_an_editor_manages_no_users(app: FastAPI, team: dict[Role, Member]) -> None:
    owner_id, viewer_id = team[Role.owner].id, team[Role.viewer].id
    attempts = [
        ("GET", "/api/v1/users", None),
        ("PATCH", f"/api/v1/users/{viewer_id}", {"role": "admin"}),
        ("PATCH", f"/api/v1/users/{owner_id}", {"role": "viewer"}),
        ("POST", f"/api/v1/users/{owner_id}/disable", None),
        ("POST", f"/api/v1/users/{viewer_id}/disable", None),
        ("POST", f"/api/v1/users/{viewer_id}/enable", None),
        ("GET", f"/api/v1/users/{viewer_id}/api-keys", None),
        ("GET", "/api/v1/invites", None),
        ("POST", "/api/v1/invites", {"email": "friend@example.com", "role": "admin"}),
    ]
    async with (
        as_key(app, team[Role.editor].key) as by_key,
        signed_in(app, team[Role.editor].email) as by_session,
        as_key(app, team[Role.owner].key) as owner,
    ):
        before = (await owner.get("/api/v1/users")).json()
        for client in (by_key, by_session):
            for method, path, body in attempts:
                response = await client.request(method, path, json=body)
                assert response.status_code == 403, (method, path, response.text)
                message = response.json()["error"]["message"]
                assert message == "this needs the admin role (or above); your role is editor"
        assert (await owner.get("/api/v1/users")).json() == before
        assert (await owner.get("/api/v1/invites")).json() == []


async def test_an_admin_neither_demotes_nor_disables_the_owner(
    app: FastAPI, server: Server, team: dict[Role, Member]
) -> None:
    owner = team[Role.owner]
    async with as_key(app, team[Role.admin].key) as admin, as_key(app, owner.key) as by_owner:
        demote = await admin.patch(f"/api/v1/users/{owner.id}", json={"role": "viewer"})
        assert demote.status_code == 403
        assert demote.json()["error"]["message"] == (
            "the owner's role cannot be changed: only the owner hands it over"
        )
        disable = await admin.post(f"/api/v1/users/{owner.id}/disable")
        assert disable.status_code == 403
        assert disable.json()["error"]["message"] == "the owner cannot be disabled"
        crown = await admin.patch(f"/api/v1/users/{team[Role.admin].id}", json={"role": "owner"})
        assert crown.status_code == 403
        me = (await by_owner.get("/api/v1/auth/me")).json()
        assert me["role"] == "owner"
    with pytest.raises(Forbidden):  # nor can this machine's administrator
        await server.parts.users_service.disable(owner.id)
    with pytest.raises(Forbidden):
        await server.parts.users_service.disable(owner.id, by=Actor(owner.id, Role.owner))


async def test_two_people_racing_with_one_invite_link_get_one_account(
    app: FastAPI, server: Server, team: dict[Role, Member]
) -> None:
    _, token = await server.parts.users_service.invite(
        "race@example.com", Role.editor, by=Actor(team[Role.admin].id, Role.admin)
    )

    async def accept(password: str) -> int:
        async with browser(app) as person:
            body = {"token": token, "password": password}
            return (await person.post("/api/v1/auth/invite/accept", json=body)).status_code

    statuses = await asyncio.gather(*(accept(f"password {n}!") for n in range(4)))
    assert sorted(statuses) == [201, 409, 409, 409]
    emails = [u.email for u in await server.parts.users_service.all()]
    assert emails.count("race@example.com") == 1


async def test_an_invite_link_past_its_time_is_refused(
    app: FastAPI, server: Server, team: dict[Role, Member]
) -> None:
    users = server.parts.users_service
    users.invite_ttl = timedelta(seconds=0.2)
    _, token = await users.invite("slow@example.com", Role.viewer, by=None)
    await asyncio.sleep(0.3)
    async with browser(app) as person:
        body = {"token": token, "password": "long enough"}
        response = await person.post("/api/v1/auth/invite/accept", json=body)
        assert response.status_code == 409
        assert response.json()["error"]["details"] == {"reason": "expired"}
    assert "slow@example.com" not in {u.email for u in await users.all()}


@pytest.fixture
async def served(server: Server) -> AsyncIterator[str]:
    """The app under uvicorn with its access log on (as ``tav serve`` runs it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(server.settings, server=server),
        lifespan="off",
        log_config=None,  # the records go to the root logger, where caplog sees them
        log_level="debug",
        access_log=True,
        ws="none",
    )
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while True:
            if served.started:
                break
            await asyncio.sleep(0.005)
    yield f"http://localhost:{port}"
    served.should_exit = True
    await task
    sock.close()


async def test_invite_tokens_and_passwords_are_in_no_response_log_or_table(
    served: str, server: Server, team: dict[Role, Member], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    origin = {"Origin": served}
    answers: list[str] = []
    async with httpx.AsyncClient(base_url=served, headers=origin) as admin:
        body = {"email": team[Role.admin].email, "password": PASSWORD}
        assert (await admin.post("/api/v1/auth/login", json=body)).status_code == 200
        created = await admin.post(
            "/api/v1/invites", json={"email": "secret@example.com", "role": "viewer"}
        )
        token = created.json()["token"]
        assert created.json()["url"] == f"{served}/invite#token={token}"
        answers += [(await admin.get("/api/v1/invites")).text]
    async with httpx.AsyncClient(base_url=served, headers=origin) as person:
        answers += [(await person.get("/invite")).text]  # what a browser fetches for the link
        for path, body in (
            ("/api/v1/auth/invite", {"token": token}),
            ("/api/v1/auth/invite/accept", {"token": token, "password": CANARY_PASSWORD}),
            ("/api/v1/auth/invite/accept", {"token": token, "password": CANARY_PASSWORD}),
            ("/api/v1/auth/login", {"email": "secret@example.com", "password": CANARY_PASSWORD}),
        ):
            answers += [(await person.post(path, json=body)).text]
        answers += [(await person.get("/api/v1/auth/me")).text]
        answers += [(await person.get("/api/v1/auth/status")).text]
    async with as_key(create_app(server.settings, server=server), team[Role.owner].key) as owner:
        answers += [(await owner.get("/api/v1/users")).text]
    assert "secret@example.com" in "".join(answers)  # the answers were real
    for answer in answers:
        assert token not in answer
        assert CANARY_PASSWORD not in answer
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /api/v1/auth/invite/accept" in logged  # the access log was on
    assert token not in logged
    assert CANARY_PASSWORD not in logged
    await _nowhere_in_the_database(server, [token, CANARY_PASSWORD])


async def _nowhere_in_the_database(server: Server, secrets: list[str]) -> None:
    async with server.parts.db.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()
            for row in rows:
                for value in row:
                    for secret in secrets:
                        assert secret not in str(value), table
    await server.parts.db.reclaim_space()
    _nowhere_in_the_files(Path(server.settings.data_dir), secrets)


def _nowhere_in_the_files(data_dir: Path, secrets: list[str]) -> None:
    for path in data_dir.glob("tav.db*"):
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, path.name
