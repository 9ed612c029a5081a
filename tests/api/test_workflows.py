"""Workflows over HTTP: create, list, get, update with versions, activate, delete, validate."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.api.workflow_builders import MISSING, create, greet
from tests.api.workflow_builders import WORKFLOWS as API
from tests.helpers import document, node


async def test_every_workflow_route_needs_credentials(anonymous):
    routes = [
        ("POST", API),
        ("GET", API),
        ("POST", f"{API}/validate"),
        ("GET", f"{API}/{MISSING}"),
        ("PUT", f"{API}/{MISSING}"),
        ("PATCH", f"{API}/{MISSING}"),
        ("DELETE", f"{API}/{MISSING}"),
        ("GET", f"{API}/{MISSING}/versions"),
        ("GET", f"{API}/{MISSING}/versions/1"),
        ("POST", f"{API}/{MISSING}/versions/1/restore"),
    ]
    for method, url in routes:
        response = await anonymous.request(method, url, json=greet())
        assert response.status_code == 401, (method, url)
        assert response.json()["error"]["code"] == "unauthorized"


async def test_create_stores_version_one_and_get_returns_it(client):
    created = await create(client)
    assert created["version"] == 1
    assert created["name"] == "Greet"
    assert created["active"] is False
    assert created["document"] == greet()
    assert created["created_at"] == created["updated_at"]
    response = await client.get(f"{API}/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == '"1"'


def hooked(name: str = "Hooked") -> dict[str, Any]:
    """A workflow that can be active: a webhook trigger and a core.set."""
    return document(
        node("hook", "trigger.webhook", params={"path": "greet"}),
        node("greet", "core.set", params={"values": {"text": "Hello"}}),
        links=("hook -> greet",),
        name=name,
    )


async def test_create_can_store_the_workflow_active(client):
    assert (await create(client, hooked(), active="true"))["active"] is True
    response = await client.post(API, json=greet(), params={"active": "true"})
    assert response.status_code == 422  # nothing to arm: trigger.manual runs by hand


async def test_an_invalid_workflow_is_refused_with_every_problem_located(client):
    doc = document(
        node("start", "trigger.manual"),
        node("wait", "core.delay", params={"seconds": "soon"}),
        node("odd", "core.nope"),
        links=("start -> wait", "wait -> ghost"),
    )
    response = await client.post(API, json=doc)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "workflow_invalid"
    found = {(p["node"], p["edge"], p["field"]) for p in error["details"]}
    assert ("wait", None, "params.seconds") in found
    assert ("odd", None, "type") in found
    assert (None, 1, "to") in found
    assert all(p["message"] and p["location"] for p in error["details"])
    assert (await client.get(API)).json()["total"] == 0


UNSTORABLE = [
    (document(vars={"n": 1e999}), "vars.n"),
    (document(name="nul\x00"), "name"),
    (document(node("a", "core.set", params={"values": {"a\x00": 1}})), "params.values"),
]


async def test_values_no_database_stores_alike_are_problems(client):
    # Python's json, and so the request parser, reads Infinity; databases do not store it.
    headers = {"content-type": "application/json"}
    for body, field in UNSTORABLE:
        response = await client.post(API, content=json.dumps(body), headers=headers)
        assert response.status_code == 422, field
        assert field in [p["field"] for p in response.json()["error"]["details"]]


async def test_bodies_that_are_not_documents_are_request_errors(client):
    not_json = await client.post(
        API, content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert not_json.json()["error"]["code"] == "request_invalid"
    a_list = await client.post(API, json=[1, 2])
    assert a_list.status_code == 422
    deep = await client.post(
        API, content=b"[" * 50_000 + b"]" * 50_000, headers={"content-type": "application/json"}
    )
    assert 400 <= deep.status_code < 500
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(100):
        inner["a"] = inner = {}
    too_deep = await client.post(API, json={"name": "deep", "vars": nested})
    assert too_deep.status_code == 422
    assert "nested deeper" in too_deep.json()["error"]["details"][0]["message"]


async def test_list_pages_and_searches_by_name_in_any_case(client):
    for name in ("Alpha report", "beta REPORT", "Gamma", "100% done", "under_score"):
        await create(client, greet(name))
    page = (await client.get(API, params={"limit": 2})).json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 0)
    assert len(page["items"]) == 2
    assert "document" not in page["items"][0]
    rest = (await client.get(API, params={"limit": 2, "offset": 4})).json()
    assert len(rest["items"]) == 1
    every = [w["name"] for w in (await client.get(API, params={"limit": 200})).json()["items"]]
    assert every[0] == "under_score"  # most recently saved first
    found = (await client.get(API, params={"search": "report"})).json()
    assert sorted(w["name"] for w in found["items"]) == ["Alpha report", "beta REPORT"]
    assert found["total"] == 2
    assert (await client.get(API, params={"search": "%"})).json()["total"] == 1
    assert (await client.get(API, params={"search": "_"})).json()["total"] == 1


async def test_paging_out_of_range_is_a_request_error(client):
    for params in (
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"search": "nul\x00"},
        {"search": "x" * 201},
        {"offset": 10**30},
        {"limit": "x"},
    ):
        response = await client.get(API, params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "request_invalid"


async def test_every_save_keeps_a_version(client):
    created = await create(client)
    url = f"{API}/{created['id']}"
    updated = await client.put(url, json=greet("Greet v2", "Hi"))
    assert updated.status_code == 200
    assert updated.json()["version"] == 2
    assert updated.json()["name"] == "Greet v2"
    assert updated.headers["etag"] == '"2"'
    versions = (await client.get(f"{url}/versions")).json()
    assert [(v["version"], v["name"]) for v in versions] == [(2, "Greet v2"), (1, "Greet")]
    assert all("document" not in v and v["created_at"] for v in versions)
    first = (await client.get(f"{url}/versions/1")).json()
    assert first["document"] == greet()
    assert first["name"] == "Greet"


async def test_restore_saves_an_old_version_as_the_newest(client):
    created = await create(client)
    url = f"{API}/{created['id']}"
    await client.put(url, json=greet("Changed", "Hi"))
    restored = await client.post(f"{url}/versions/1/restore")
    assert restored.status_code == 200
    assert restored.json()["version"] == 3
    assert restored.json()["document"] == greet()
    assert (await client.get(url)).json()["name"] == "Greet"
    stale = await client.post(f"{url}/versions/2/restore", headers={"If-Match": '"2"'})
    assert stale.status_code == 409
    missing = await client.post(f"{url}/versions/9/restore")
    assert missing.status_code == 404


async def test_a_stale_if_match_or_base_version_is_a_conflict(client):
    created = await create(client)
    url = f"{API}/{created['id']}"
    ok = await client.put(url, json=greet("Two"), headers={"If-Match": '"1"'})
    assert ok.status_code == 200
    stale = await client.put(url, json=greet("Lost"), headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json()["error"] == {
        "code": "conflict",
        "message": "the workflow is at version 2",
        "details": {"current_version": 2},
    }
    assert (
        await client.put(url, json=greet("Lost"), params={"base_version": 1})
    ).status_code == 409
    assert (
        await client.put(url, json=greet("Three"), params={"base_version": 2})
    ).status_code == 200
    weak = await client.put(url, json=greet("Four"), headers={"If-Match": 'W/"3"'})
    assert weak.status_code == 200
    anything = await client.put(url, json=greet("Five"), headers={"If-Match": "*"})
    assert anything.json()["version"] == 5
    for bad in ("yesterday", '"9999999999"', '"1", "2"'):
        response = await client.put(url, json=greet(), headers={"If-Match": bad})
        assert response.status_code == 422, bad
    both = await client.put(
        url, json=greet(), headers={"If-Match": "5"}, params={"base_version": 4}
    )
    assert both.status_code == 422
    assert (await client.get(url)).json()["name"] == "Five"


async def test_concurrent_saves_from_one_version_keep_exactly_one(client):
    created = await create(client)
    url = f"{API}/{created['id']}"
    responses = await asyncio.gather(
        *(client.put(url, json=greet(f"Save {i}"), headers={"If-Match": '"1"'}) for i in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    assert len((await client.get(f"{url}/versions")).json()) == 2


async def test_an_update_is_validated_like_a_create(client):
    created = await create(client)
    url = f"{API}/{created['id']}"
    response = await client.put(url, json=document(node("x", "core.nope")))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["node"] == "x"
    assert (await client.get(url)).json()["version"] == 1


async def test_patch_activates_and_deactivates_without_a_new_version(client):
    created = await create(client, hooked())
    url = f"{API}/{created['id']}"
    on = await client.patch(url, json={"active": True})
    assert on.status_code == 200
    assert (on.json()["active"], on.json()["version"]) == (True, 1)
    off = await client.patch(url, json={"active": False})
    assert off.json()["active"] is False
    assert (await client.get(url)).json()["active"] is False
    assert (await client.patch(url, json={"active": "maybe"})).status_code == 422
    assert (await client.patch(url, json={"active": True, "name": "x"})).status_code == 422


async def test_a_put_keeps_the_active_flag(client):
    created = await create(client, hooked(), active="true")
    updated = await client.put(f"{API}/{created['id']}", json=hooked("Renamed"))
    assert updated.json()["active"] is True


async def test_delete_removes_the_workflow_and_its_versions(client):
    created = await create(client)
    url = f"{API}/{created['id']}"
    assert (await client.delete(url)).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.get(f"{url}/versions")).status_code == 404
    assert (await client.delete(url)).status_code == 404


async def test_unknown_ids_are_404_on_every_route(client):
    for workflow_id in (MISSING, "nope", "x" * 300, "%00", "ÄÖ"):
        await _all_404(client, f"{API}/{workflow_id}")


async def _all_404(client, url: str) -> None:
    requests = [
        client.get(url),
        client.put(url, json=greet()),
        client.patch(url, json={"active": True}),
        client.delete(url),
        client.get(f"{url}/versions"),
        client.get(f"{url}/versions/1"),
        client.post(f"{url}/versions/1/restore"),
        client.get(f"{url}/export"),
    ]
    for response in await asyncio.gather(*requests):
        assert response.status_code == 404, response.request.method
        assert response.json()["error"]["code"] == "not_found"


async def test_unknown_versions_are_404_and_bad_ones_422(client):
    created = await create(client)
    url = f"{API}/{created['id']}/versions"
    assert (await client.get(f"{url}/2")).status_code == 404
    assert (await client.get(f"{url}/0")).status_code == 422
    assert (await client.get(f"{url}/{10**20}")).status_code == 422


async def test_validate_reports_problems_and_stores_nothing(client):
    ok = await client.post(f"{API}/validate", json=greet())
    assert ok.status_code == 200
    assert ok.json() == {"valid": True, "problems": []}
    bad = await client.post(f"{API}/validate", json=document(node("x", "core.nope")))
    assert bad.status_code == 200
    report = bad.json()
    assert report["valid"] is False
    assert report["problems"][0]["node"] == "x"
    assert report["problems"][0]["field"] == "type"
    assert (await client.get(API)).json()["total"] == 0


MALFORMED = [
    (b"{nope", "application/json", "not valid JSON"),
    (b"[1, 2]", "application/json", "a workflow document is an object"),
    (b"null", "application/json", "got nothing"),
    (b"\xff{}", "application/json", "not UTF-8 text (byte 0xff at offset 0)"),
    (b"\xff\xfe{\x00}", "application/json", "not UTF-16 text (it ends in the middle"),
    (b"name: [unclosed", "application/yaml", "not valid YAML"),
    (b"name: x\nwhen: 2024-01-01\n", "text/yaml", "not a JSON value"),
    (b"name: x\nyes: 1\n", "text/yaml", "is not text"),
    (b'name: x\nvars: {a: "\\ud800"}\n', "text/yaml", "lone surrogate"),
]


async def test_validate_reports_malformed_documents_as_problems(client):
    for content, content_type, message in MALFORMED:
        headers = {"content-type": content_type}
        response = await client.post(f"{API}/validate", content=content, headers=headers)
        assert response.status_code == 200, content
        report = response.json()
        assert report["valid"] is False
        assert any(message in problem["message"] for problem in report["problems"]), report


async def test_validate_refuses_other_content_types(client):
    response = await client.post(
        f"{API}/validate", content=b"name=x", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
