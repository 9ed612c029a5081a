"""Global variables over HTTP, and ``vars.<name>`` in the executions that follow."""

from __future__ import annotations

from tests.helpers import document, node

API = "/api/v1/variables"


async def test_variables_need_credentials(anonymous):
    assert (await anonymous.get(API)).status_code == 401
    assert (await anonymous.get(f"{API}/x")).status_code == 401
    assert (await anonymous.put(f"{API}/x", json={"value": 1})).status_code == 401
    assert (await anonymous.delete(f"{API}/x")).status_code == 401


VALUES = ["text", 42, 2.5, True, None, [1, "two"], {"nested": {"list": [1, {"a": None}]}}]


async def test_any_json_value_round_trips(client):
    for value in VALUES:
        put = await client.put(f"{API}/answer", json={"value": value})
        assert put.status_code == 200
        assert put.json() == {"name": "answer", "value": value}
        assert (await client.get(f"{API}/answer")).json() == {"name": "answer", "value": value}


async def test_list_replace_and_delete(client):
    await client.put(f"{API}/b_second", json={"value": 2})
    await client.put(f"{API}/a_first", json={"value": 1})
    await client.put(f"{API}/a_first", json={"value": "one"})
    listed = (await client.get(API)).json()
    assert listed == [{"name": "a_first", "value": "one"}, {"name": "b_second", "value": 2}]
    assert (await client.delete(f"{API}/a_first")).status_code == 204
    assert (await client.get(f"{API}/a_first")).status_code == 404
    assert (await client.delete(f"{API}/a_first")).status_code == 404
    assert [v["name"] for v in (await client.get(API)).json()] == ["b_second"]


async def test_unknown_variables_are_404(client):
    response = await client.get(f"{API}/nothing_here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_names_must_be_identifiers(client):
    for name in ("1abc", "with-dash", "a" * 65, "dotted.name", "%00", "ünï"):
        for response in (
            await client.put(f"{API}/{name}", json={"value": 1}),
            await client.get(f"{API}/{name}"),
            await client.delete(f"{API}/{name}"),
        ):
            assert response.status_code == 422, name
            assert response.json()["error"]["details"][0]["location"] == "path.name"


BAD_BODIES = [
    (b"{}", "body.value"),
    (b'{"value": 1, "extra": 2}', "body.extra"),
    (b'{"value": NaN}', "body.value"),
    (b'{"value": {"list": [1, Infinity]}}', "body.value.list.1"),
    (b'{"value": "nul\\u0000"}', "body.value"),
    (b'{"value": ', "body.10"),
]


async def test_bad_bodies_are_request_errors(client):
    headers = {"content-type": "application/json"}
    for content, location in BAD_BODIES:
        response = await client.put(f"{API}/x", content=content, headers=headers)
        assert response.status_code == 422, content
        error = response.json()["error"]
        assert error["code"] == "request_invalid"
        assert location in [detail["location"] for detail in error["details"]]
    assert (await client.get(f"{API}/x")).status_code == 404


async def test_values_over_a_mebibyte_are_refused(client):
    response = await client.put(f"{API}/big", json={"value": "x" * (1024 * 1024)})
    assert response.status_code == 413


MAX = "{{ vars.limits.max }}"


async def test_a_variable_is_vars_name_in_an_execution(client, server):
    await client.put(f"{API}/greeting", json={"value": "hello"})
    await client.put(f"{API}/limits", json={"value": {"max": 3}})
    workflow = document(
        node("start", "trigger.manual"),
        node("say", "core.set", params={"values": {"text": "{{ vars.greeting }}, {{ trigger }}"}}),
        node(
            "out",
            "core.output",
            params={"value": {"said": "{{ input.text }}", "max": "{{ vars.limits.max }}"}},
        ),
        links=("start -> say", "say -> out"),
    )
    handle = await server.parts.executions_service.run(workflow, "world")
    result = await handle.wait()
    assert result.succeeded, result.error
    assert result.output == {"said": "hello, world", "max": 3}
