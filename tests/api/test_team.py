"""The team over HTTP: inviting and accepting, roles and who may change them, disabling and
enabling, each member's own API keys, and who saved a version or started an execution."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from tav.app.server import Server
from tav.core.events import utcnow
from tav.core.roles import Role
from tav.storage.models import InviteRow
from tests.api.helpers import run_to_end
from tests.api.team import PASSWORD, Member, as_key, browser, signed_in
from tests.api.triggers import manual_flow, webhook_flow


@pytest.fixture
async def owner(app: FastAPI, team: dict[Role, Member]) -> AsyncIterator[httpx.AsyncClient]:
    async with as_key(app, team[Role.owner].key) as client:
        yield client


@pytest.fixture
async def admin(app: FastAPI, team: dict[Role, Member]) -> AsyncIterator[httpx.AsyncClient]:
    async with as_key(app, team[Role.admin].key) as client:
        yield client


async def invite(client: httpx.AsyncClient, email: str, role: str) -> dict:
    response = await client.post("/api/v1/invites", json={"email": email, "role": role})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_an_invited_person_sets_a_password_and_is_signed_in_with_the_role(
    app: FastAPI, admin: httpx.AsyncClient, team: dict[Role, Member]
) -> None:
    created = await invite(admin, "New.Person@Example.com", "editor")
    assert created["email"] == "new.person@example.com"
    assert created["created_by"] == team[Role.admin].id
    assert created["url"] == f"http://localhost/invite#token={created['token']}"
    listed = (await admin.get("/api/v1/invites")).json()
    assert [i["email"] for i in listed] == ["new.person@example.com"]
    assert "token" not in listed[0]
    assert "url" not in listed[0]

    async with browser(app) as person:
        offer = await person.post("/api/v1/auth/invite", json={"token": created["token"]})
        assert offer.status_code == 200, offer.text
        assert offer.json()["email"] == "new.person@example.com"
        assert offer.json()["role"] == "editor"
        body = {"token": created["token"], "password": "a new password"}
        accepted = await person.post("/api/v1/auth/invite/accept", json=body)
        assert accepted.status_code == 201, accepted.text
        me = (await person.get("/api/v1/auth/me")).json()
        assert me["user"]["email"] == "new.person@example.com"
        assert me["role"] == "editor"
        assert me["via"] == "session"
        assert me["can_edit"] is True
        assert me["manages_users"] is False
    assert (await admin.get("/api/v1/invites")).json() == []
    members = {u["email"]: u for u in (await admin.get("/api/v1/users")).json()}
    assert members["new.person@example.com"]["role"] == "editor"
    async with signed_in(app, "new.person@example.com", "a new password") as again:
        assert (await again.get("/api/v1/auth/me")).json()["role"] == "editor"


async def test_an_invite_link_works_once(app: FastAPI, admin: httpx.AsyncClient) -> None:
    token = (await invite(admin, "once@example.com", "viewer"))["token"]
    async with browser(app) as first, browser(app) as second:
        body = {"token": token, "password": "first password"}
        assert (await first.post("/api/v1/auth/invite/accept", json=body)).status_code == 201
        body = {"token": token, "password": "other password"}
        again = await second.post("/api/v1/auth/invite/accept", json=body)
        assert again.status_code == 409
        assert again.json()["error"]["message"] == "this invite link was already used"
        looked = await second.post("/api/v1/auth/invite", json={"token": token})
        assert looked.status_code == 409
        assert (await second.get("/api/v1/auth/me")).status_code == 401


async def test_an_expired_or_revoked_invite_link_is_refused(
    app: FastAPI, admin: httpx.AsyncClient, server: Server
) -> None:
    expiring = await invite(admin, "late@example.com", "viewer")
    async with server.parts.db.transaction() as session:  # a week later
        await session.execute(
            update(InviteRow)
            .where(InviteRow.id == expiring["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    revoked = await invite(admin, "gone@example.com", "viewer")
    assert (await admin.delete(f"/api/v1/invites/{revoked['id']}")).status_code == 204
    listed = {i["email"]: i for i in (await admin.get("/api/v1/invites")).json()}
    assert listed["late@example.com"]["expired"] is True
    assert "gone@example.com" not in listed
    async with browser(app) as person:
        body = {"token": expiring["token"], "password": "a new password"}
        late = await person.post("/api/v1/auth/invite/accept", json=body)
        assert late.status_code == 409
        assert late.json()["error"]["message"] == "this invite link has expired: ask for a new one"
        body = {"token": revoked["token"], "password": "a new password"}
        gone = await person.post("/api/v1/auth/invite/accept", json=body)
        assert gone.status_code == 404
        assert "revoked" in gone.json()["error"]["message"]
    assert "late@example.com" not in {u["email"] for u in (await admin.get("/api/v1/users")).json()}


async def test_nobody_is_invited_twice_nor_as_owner(admin: httpx.AsyncClient) -> None:
    body = {"email": "editor@example.com", "role": "viewer"}
    taken = await admin.post("/api/v1/invites", json=body)
    assert taken.status_code == 409
    owner = await admin.post("/api/v1/invites", json={"email": "x@example.com", "role": "owner"})
    assert owner.status_code == 403
    first = await invite(admin, "twice@example.com", "viewer")
    second = await invite(admin, "twice@example.com", "editor")
    assert [i["id"] for i in (await admin.get("/api/v1/invites")).json()] == [second["id"]]
    assert first["token"] != second["token"]


async def test_a_new_role_applies_to_the_members_next_request(
    app: FastAPI, admin: httpx.AsyncClient, team: dict[Role, Member]
) -> None:
    editor = team[Role.editor]
    async with as_key(app, editor.key) as client, signed_in(app, editor.email) as session:
        assert (await client.post("/api/v1/workflows", json=manual_flow())).status_code == 201
        changed = await admin.patch(f"/api/v1/users/{editor.id}", json={"role": "viewer"})
        assert changed.status_code == 200
        assert changed.json()["role"] == "viewer"
        refused = await client.post("/api/v1/workflows", json=manual_flow())
        assert refused.status_code == 403
        assert (await session.get("/api/v1/auth/me")).json()["role"] == "viewer"
        assert (await session.post("/api/v1/workflows", json=manual_flow())).status_code == 403


async def test_the_owner_hands_the_role_over_and_becomes_an_admin(
    owner: httpx.AsyncClient, admin: httpx.AsyncClient, team: dict[Role, Member]
) -> None:
    editor = team[Role.editor]
    refused = await admin.patch(f"/api/v1/users/{editor.id}", json={"role": "owner"})
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "only the owner can make another user the owner"
    handed = await owner.patch(f"/api/v1/users/{editor.id}", json={"role": "owner"})
    assert handed.status_code == 200, handed.text
    roles = {u["email"]: u["role"] for u in (await owner.get("/api/v1/users")).json()}
    assert roles["editor@example.com"] == "owner"
    assert roles["owner@example.com"] == "admin"
    assert list(roles.values()).count("owner") == 1


async def test_nobody_changes_their_own_role_or_disables_themselves(
    admin: httpx.AsyncClient, team: dict[Role, Member]
) -> None:
    me = team[Role.admin].id
    own = await admin.patch(f"/api/v1/users/{me}", json={"role": "editor"})
    assert own.status_code == 403
    assert own.json()["error"]["message"] == "you cannot change your own role: ask another admin"
    assert (await admin.post(f"/api/v1/users/{me}/disable")).status_code == 403


async def test_a_disabled_member_cannot_sign_in_until_enabled_and_gets_no_old_keys_back(
    app: FastAPI, admin: httpx.AsyncClient, team: dict[Role, Member]
) -> None:
    viewer = team[Role.viewer]
    disabled = await admin.post(f"/api/v1/users/{viewer.id}/disable")
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert disabled.json()["disabled_at"]
    async with browser(app) as person:
        body = {"email": viewer.email, "password": PASSWORD}
        refused = await person.post("/api/v1/auth/login", json=body)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "account_disabled"
        assert (await admin.get(f"/api/v1/users/{viewer.id}/api-keys")).json() == []
        assert (await admin.post(f"/api/v1/users/{viewer.id}/enable")).json()["disabled"] is False
        assert (await person.post("/api/v1/auth/login", json=body)).status_code == 200
    async with as_key(app, viewer.key) as old_key:
        assert (await old_key.get("/api/v1/workflows")).status_code == 401


async def test_each_member_sees_and_revokes_only_their_own_keys(
    app: FastAPI, admin: httpx.AsyncClient, team: dict[Role, Member]
) -> None:
    editor, viewer = team[Role.editor], team[Role.viewer]
    async with as_key(app, editor.key) as client:
        created = await client.post("/api/v1/auth/api-keys", json={"name": "ci"})
        assert created.status_code == 201
        assert created.json()["role"] == "editor"
        names = [k["name"] for k in (await client.get("/api/v1/auth/api-keys")).json()]
        assert names == ["editor's key", "ci"]
        me = (await client.get("/api/v1/auth/me")).json()
        assert me["via"] == "api_key"
        assert me["api_key"]["name"] == "editor's key"
        assert me["user"]["email"] == editor.email
    async with as_key(app, viewer.key) as other:
        gone = await other.delete(f"/api/v1/auth/api-keys/{created.json()['id']}")
        assert gone.status_code == 404
        names = [k["name"] for k in (await other.get("/api/v1/auth/api-keys")).json()]
        assert names == ["viewer's key"]
    listed = (await admin.get(f"/api/v1/users/{editor.id}/api-keys")).json()
    assert [k["name"] for k in listed] == ["editor's key", "ci"]
    revoke = f"/api/v1/users/{editor.id}/api-keys/{created.json()['id']}"
    assert (await admin.delete(revoke)).status_code == 204
    async with as_key(app, created.json()["key"]) as revoked:
        assert (await revoked.get("/api/v1/workflows")).status_code == 401


async def test_versions_say_who_saved_them_and_executions_who_started_them(
    app: FastAPI, team: dict[Role, Member], anonymous: httpx.AsyncClient, server: Server
) -> None:
    editor, admin = team[Role.editor], team[Role.admin]
    async with as_key(app, editor.key) as by_key, signed_in(app, admin.email) as by_hand:
        workflow = (await by_key.post("/api/v1/workflows", json=manual_flow())).json()
        changed = {**manual_flow(), "name": "renamed"}
        saved = await by_hand.put(f"/api/v1/workflows/{workflow['id']}", json=changed)
        assert saved.status_code == 200, saved.text
        versions = (await by_key.get(f"/api/v1/workflows/{workflow['id']}/versions")).json()
        assert [v["created_by"] for v in versions] == [
            {"id": admin.id, "email": admin.email},
            {"id": editor.id, "email": editor.email},
        ]
        one = (await by_key.get(f"/api/v1/workflows/{workflow['id']}/versions/1")).json()
        assert one["created_by"] == {"id": editor.id, "email": editor.email}

        ran = await run_to_end(by_key, workflow["id"])
        assert ran["started_by"] == {"id": editor.id, "email": editor.email}
        stored = (await by_hand.get(f"/api/v1/executions/{ran['execution_id']}")).json()
        assert stored["started_by"] == ran["started_by"]
        listed = (await by_hand.get("/api/v1/executions")).json()["items"]
        assert listed[0]["started_by"] == ran["started_by"]

    hook = (await server.parts.workflows_service.create(webhook_flow(respond="when_done"))).id
    await server.parts.workflows_service.activate(hook)
    fired = await anonymous.post("/webhook/orders", json={"n": 1})
    assert fired.status_code == 200, fired.text
    async with as_key(app, editor.key) as by_key:
        execution_id = fired.headers["x-tav-execution-id"]
        triggered = (await by_key.get(f"/api/v1/executions/{execution_id}")).json()
        assert triggered["mode"] == "webhook"
        assert "started_by" not in triggered
