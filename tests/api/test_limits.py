"""Bodies refused before any route sees them, and errors Starlette raises, as JSON errors."""

from __future__ import annotations

JSON = {"Content-Type": "application/json"}


async def test_a_lone_surrogate_in_a_json_body_is_refused_for_every_route(client):
    for method, path, body in [
        ("PUT", "/api/v1/variables/x", '{"value": "\\ud800"}'),
        ("PUT", "/api/v1/variables/x", '{"value": {"\\udc00": 1}}'),
        ("POST", "/api/v1/auth/api-keys", '{"name": "a\\uDBFF"}'),
    ]:
        response = await client.request(method, path, content=body, headers=JSON)
        assert response.status_code == 422, (path, body)
        assert response.json()["error"]["code"] == "request_invalid"
    assert (await client.get("/api/v1/variables/x")).status_code == 404


async def test_paired_surrogates_and_escaped_backslashes_are_text(client):
    body = '{"value": ["\\ud83d\\ude00", "\\\\ud800"]}'
    response = await client.put("/api/v1/variables/x", content=body, headers=JSON)
    assert response.status_code == 200
    assert (await client.get("/api/v1/variables/x")).json()["value"] == ["😀", "\\ud800"]


async def test_bodies_that_cannot_be_read_as_json_are_request_invalid(client):
    broken = await client.put("/api/v1/variables/x", content=b"{nope", headers=JSON)
    assert broken.status_code == 422
    assert broken.json()["error"]["code"] == "request_invalid"
    deep = b'{"value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # Python's parser gives up
    response = await client.put("/api/v1/variables/x", content=deep, headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "request_invalid"


async def test_a_streamed_body_over_the_limit_is_a_413(client, server):
    limit = server.settings.max_body_bytes

    async def chunks():
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = await client.post("/api/v1/auth/api-keys", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


async def test_a_wrong_method_says_which_are_allowed(client):
    response = await client.patch("/api/v1/nodes")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]
