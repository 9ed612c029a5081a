"""What the server keeps in memory (API keys, variables, stored workflows) never outlives
a change made through it, and a change made elsewhere shows within the time to live."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from tav.storage.auth import AuthRepository
from tav.storage.config import VariableRepository
from tav.storage.models import ApiKeyRow
from tav.storage.workflows import WorkflowRepository
from tests.api.helpers import run_to_end, stored
from tests.helpers import document, node


async def test_a_deleted_api_key_is_refused_at_once(client, server):
    created = (await client.post("/api/v1/auth/api-keys", json={"name": "script"})).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await client.get("/api/v1/nodes", headers=headers)).status_code == 200  # cached
    assert (await client.get("/api/v1/nodes", headers=headers)).status_code == 200
    assert (await client.delete(f"/api/v1/auth/api-keys/{created['id']}")).status_code == 204
    assert (await client.get("/api/v1/nodes", headers=headers)).status_code == 401


async def test_a_key_deleted_by_another_process_stops_working_within_the_ttl(server):
    here = AuthRepository(server.parts.db, cache_ttl_s=0.2)
    elsewhere = AuthRepository(server.parts.db)  # what `tav api-keys delete` would use
    key, secret = await elsewhere.create_api_key("script")
    assert await here.check_api_key(secret) == key
    assert await elsewhere.delete_api_key(key.id)
    assert await here.check_api_key(secret) == key  # still trusted: cached
    await asyncio.sleep(0.25)
    assert await here.check_api_key(secret) is None
    await here.settle()


async def test_last_used_at_is_written_in_the_background_at_most_once_a_minute(server):
    auth = AuthRepository(server.parts.db)
    key, secret = await auth.create_api_key("script")
    assert key.last_used_at is None
    for _ in range(5):
        assert await auth.check_api_key(secret) is not None
    await auth.settle()
    first = await _last_used(server, key.id)
    assert first is not None
    await auth.check_api_key(secret)
    await auth.settle()
    assert await _last_used(server, key.id) == first


async def _last_used(server, key_id):
    async with server.parts.db.session() as session:
        return await session.scalar(select(ApiKeyRow.last_used_at).where(ApiKeyRow.id == key_id))


def echo_var() -> dict:
    return document(
        node("start", "trigger.manual"),
        node("out", "core.output", params={"value": {"colour": "{{ vars.colour }}"}}),
        links=("start -> out",),
    )


async def test_a_changed_variable_is_seen_by_the_next_run(client, server):
    workflow_id = await stored(server, echo_var())
    await client.put("/api/v1/variables/colour", json={"value": "red"})
    assert (await run_to_end(client, workflow_id))["output"] == {"colour": "red"}
    await client.put("/api/v1/variables/colour", json={"value": "blue"})
    assert (await run_to_end(client, workflow_id))["output"] == {"colour": "blue"}
    assert (await client.delete("/api/v1/variables/colour")).status_code == 204
    assert (await client.get("/api/v1/variables")).json() == []
    await client.put("/api/v1/variables/colour", json={"value": "green"})
    assert (await run_to_end(client, workflow_id))["output"] == {"colour": "green"}


async def test_variables_changed_elsewhere_show_within_the_ttl(server):
    here = VariableRepository(server.parts.db, cache_ttl_s=0.2)
    elsewhere = VariableRepository(server.parts.db)
    await elsewhere.put("colour", "red")
    assert await here.all() == {"colour": "red"}
    await elsewhere.put("colour", "blue")
    assert await here.all() == {"colour": "red"}
    await asyncio.sleep(0.25)
    assert await here.all() == {"colour": "blue"}


def says(text: str) -> dict:
    return document(
        node("start", "trigger.manual"),
        node("out", "core.output", params={"value": text}),
        links=("start -> out",),
        name=f"says {text}",
    )


async def test_an_updated_workflow_runs_its_new_version(client, server):
    workflow_id = await stored(server, says("one"))
    first = await run_to_end(client, workflow_id)
    assert (first["output"], first["workflow_version"]) == ("one", 1)
    saved = await client.put(f"/api/v1/workflows/{workflow_id}", json=says("two"))
    assert saved.status_code == 200
    second = await run_to_end(client, workflow_id)
    assert (second["output"], second["workflow_version"]) == ("two", 2)
    assert second["workflow"] == "says two"
    restored = await client.post(f"/api/v1/workflows/{workflow_id}/versions/1/restore")
    assert restored.status_code == 200
    third = await run_to_end(client, workflow_id)
    assert (third["output"], third["workflow_version"]) == ("one", 3)
    assert (await client.delete(f"/api/v1/workflows/{workflow_id}")).status_code == 204
    gone = await client.post(f"/api/v1/workflows/{workflow_id}/run?wait=true")
    assert gone.status_code == 404


async def test_a_workflow_changed_elsewhere_shows_within_the_ttl(server):
    here = WorkflowRepository(server.parts.db, cache_ttl_s=0.2)
    elsewhere = WorkflowRepository(server.parts.db)
    workflow_id = (await elsewhere.create(says("one"))).id
    assert (await here.get(workflow_id)).version == 1
    await elsewhere.update(workflow_id, says("two"))
    assert (await here.get(workflow_id)).version == 1
    await asyncio.sleep(0.25)
    assert (await here.get(workflow_id)).document == says("two")


async def test_wait_answers_a_failed_run_and_a_retry_exactly_as_get_returns_them(client, server):
    doc = document(
        node("start", "trigger.manual"),
        node("boom", "test.raise", params={"message": "kaput"}),
        links=("start -> boom",),
    )
    failed = await run_to_end(client, await stored(server, doc), input={"odd": [1.5, None, "é"]})
    assert failed["status"] == "failed"
    again = await client.get(f"/api/v1/executions/{failed['execution_id']}")
    assert again.json() == failed
    retried = await client.post(f"/api/v1/executions/{failed['execution_id']}/retry?wait=true")
    assert retried.status_code == 200
    assert retried.json()["mode"] == "retry"
    assert (await client.get(f"/api/v1/executions/{retried.json()['execution_id']}")).json() == (
        retried.json()
    )
