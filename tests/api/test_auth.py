"""Authentication: API keys, owner setup, browser sessions."""

from __future__ import annotations

OWNER = {"email": "owner@example.com", "password": "correct horse"}


async def test_every_route_needs_credentials(anonymous):
    response = await anonymous.get("/api/v1/nodes")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_a_wrong_api_key_is_refused(anonymous):
    response = await anonymous.get("/api/v1/nodes", headers={"Authorization": "Bearer tav_nope"})
    assert response.status_code == 401


async def test_an_api_key_opens_the_api(client):
    response = await client.get("/api/v1/nodes")
    assert response.status_code == 200
    assert any(node["type"] == "core.delay" for node in response.json())


async def test_setup_then_login_and_logout_with_a_session_cookie(anonymous):
    status = (await anonymous.get("/api/v1/auth/status")).json()
    assert status["setup_required"] is True
    assert status["setup_token_required"] is False  # from this machine
    assert status["user"] is None
    created = await anonymous.post("/api/v1/auth/setup", json=OWNER)
    assert created.status_code == 201
    cookie = created.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert (await anonymous.get("/api/v1/nodes")).status_code == 200
    assert (await anonymous.post("/api/v1/auth/setup", json=OWNER)).status_code == 409
    await anonymous.post("/api/v1/auth/logout")
    assert (await anonymous.get("/api/v1/nodes")).status_code == 401
    wrong = await anonymous.post("/api/v1/auth/login", json={**OWNER, "password": "wrong pass"})
    assert wrong.status_code == 401
    assert (await anonymous.post("/api/v1/auth/login", json=OWNER)).status_code == 200
    assert (await anonymous.get("/api/v1/nodes")).status_code == 200
    assert (await anonymous.get("/api/v1/auth/status")).json()["user"]["email"] == OWNER["email"]


async def test_api_keys_are_shown_once_and_stored_hashed(client, server):
    created = await client.post("/api/v1/auth/api-keys", json={"name": "ci"})
    assert created.status_code == 201
    secret = created.json()["key"]
    listed = (await client.get("/api/v1/auth/api-keys")).json()
    assert all("key" not in key for key in listed)
    assert {key["name"] for key in listed} == {"tests", "ci"}
    async with server.parts.db.session() as session:
        from sqlalchemy import text

        hashes = (await session.execute(text("SELECT key_hash FROM api_keys"))).scalars().all()
    assert secret not in hashes
    key_id = created.json()["id"]
    assert (await client.delete(f"/api/v1/auth/api-keys/{key_id}")).status_code == 204
    revoked = await client.get("/api/v1/nodes", headers={"Authorization": f"Bearer {secret}"})
    assert revoked.status_code == 401


async def test_unknown_routes_and_bad_bodies_are_json_errors(client):
    missing = await client.get("/api/v1/nodes/core.nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    bad = await client.post("/api/v1/auth/api-keys", json={"name": ""})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["location"] == "body.name"
    huge = await client.post("/api/v1/auth/api-keys", content=b"x" * (17 * 1024 * 1024))
    assert huge.status_code == 413
