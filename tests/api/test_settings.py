"""Runtime settings over HTTP: validated, stored, applied to the running server."""

from __future__ import annotations

from tav.app.root import build
from tav.app.server import Server
from tav.engine.pools import DEFAULT_LIMITS

API = "/api/v1/settings"


async def test_settings_need_credentials(anonymous):
    assert (await anonymous.get(API)).status_code == 401
    assert (await anonymous.put(API, json={"pool_default_limit": 2})).status_code == 401


async def test_get_shows_the_settings_in_force(client):
    response = await client.get(API)
    assert response.status_code == 200
    assert response.json() == {
        "pools": dict(DEFAULT_LIMITS),
        "pool_default_limit": 16,
        "retention_max_age_days": None,
        "retention_max_count": None,
        "keep_successes": "all",
        "ai_default_models": [],
        "ai_default_embedding_models": [],
        "ai_limits": {},
    }


async def test_put_changes_only_the_fields_given_and_applies_them(client, server):
    response = await client.put(
        API, json={"pools": {"llm": 2, "gpu": 1}, "retention_max_count": 50}
    )
    assert response.status_code == 200
    settings = response.json()
    assert settings["pools"] == {**DEFAULT_LIMITS, "llm": 2, "gpu": 1}
    assert settings["retention_max_count"] == 50
    assert settings["pool_default_limit"] == 16
    assert (await client.get(API)).json() == settings
    assert server.parts.executor.pools.limits["llm"] == 2
    assert server.settings.retention_max_count == 50
    again = await client.put(API, json={"pool_default_limit": 4, "retention_max_count": None})
    assert again.json()["pools"]["gpu"] == 1
    assert again.json()["retention_max_count"] is None
    assert server.parts.executor.pools.default_limit == 4


async def test_pools_left_out_go_back_to_their_default(client):
    await client.put(API, json={"pools": {"llm": 2}})
    response = await client.put(API, json={"pools": {"http": 10}})
    assert response.json()["pools"]["llm"] == DEFAULT_LIMITS["llm"]
    assert response.json()["pools"]["http"] == 10


async def test_retention_applies_to_the_next_prune(client, server):
    await client.put(API, json={"retention_max_age_days": 0.5, "retention_max_count": 3})
    assert server.settings.retention_max_age_days == 0.5
    assert await server.prune() == 0


async def test_stored_settings_apply_again_after_a_restart(client, server):
    await client.put(API, json={"pools": {"llm": 3}, "retention_max_age_days": 7})
    restarted = Server(build(server.settings.model_copy(update={"retention_max_age_days": None})))
    await restarted.start(resume=False, prune=False)
    try:
        assert restarted.parts.executor.pools.limits["llm"] == 3
        assert restarted.settings.retention_max_age_days == 7
    finally:
        await restarted.stop(timeout_s=0)


async def test_invalid_stored_settings_do_not_stop_the_server(server, caplog):
    await server.parts.stored_settings.put_many({"pools": {"llm": -1}, "editor_theme": "dark"})
    server.parts.settings_service.apply(await server.parts.stored_settings.all())
    assert server.parts.executor.pools.limits["llm"] == DEFAULT_LIMITS["llm"]
    assert "ignoring the stored runtime settings" in caplog.text


BAD = [
    {"pools": {"llm": 0}},
    {"pools": {"llm": -3}},
    {"pools": {"llm": 10**12}},
    {"pools": {"bad name": 2}},
    {"pools": {"llm": "many"}},
    {"pool_default_limit": None},
    {"retention_max_age_days": -1},
    {"retention_max_count": 0},
    {"retention_max_count": 10**30},
    {"unknown": 1},
    [1, 2],
]


async def test_bad_values_are_refused_and_change_nothing(client, server):
    for body in BAD:
        response = await client.put(API, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "request_invalid"
        assert response.json()["error"]["details"]
    assert await server.parts.stored_settings.all() == {}


async def test_infinite_and_malformed_values_are_request_errors(client):
    infinite = await client.put(
        API,
        content=b'{"retention_max_age_days": Infinity}',
        headers={"content-type": "application/json"},
    )
    assert infinite.status_code == 422
    malformed = await client.put(API, content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 422
