"""Import and export of workflow documents as JSON and YAML files."""

from __future__ import annotations

import json

import yaml

from tests.api.workflow_builders import MISSING, create, greet
from tests.api.workflow_builders import WORKFLOWS as API
from tests.helpers import document, node

YAML_DOC = """\
schema: 1
name: From YAML
nodes:
  - {id: start, type: trigger.manual}
  - id: greet
    type: core.set
    params: {values: {text: "{{ trigger.who }}"}}
edges:
  - {from: start, to: greet}
"""


async def test_import_and_export_need_credentials(anonymous):
    assert (await anonymous.post(f"{API}/import", json=greet())).status_code == 401
    assert (await anonymous.get(f"{API}/{MISSING}/export")).status_code == 401


async def test_export_as_json_is_a_file_download(client):
    created = await create(client, greet("Daily Report: ünïcode"))
    response = await client.get(f"{API}/{created['id']}/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == (
        'attachment; filename="daily-report-n-code.json"'
    )
    assert json.loads(response.text) == greet("Daily Report: ünïcode")


async def test_export_as_yaml_round_trips_through_import(client):
    created = await create(client)
    exported = await client.get(f"{API}/{created['id']}/export", params={"format": "yaml"})
    assert exported.headers["content-type"] == "application/yaml"
    assert exported.headers["content-disposition"] == 'attachment; filename="greet.yaml"'
    assert yaml.safe_load(exported.text) == greet()
    imported = await client.post(
        f"{API}/import", content=exported.content, headers={"content-type": "application/yaml"}
    )
    assert imported.status_code == 201
    assert imported.json()["document"] == greet()
    assert imported.json()["id"] != created["id"]
    assert imported.json()["version"] == 1


async def test_export_of_an_older_version(client):
    created = await create(client)
    await client.put(f"{API}/{created['id']}", json=greet("Renamed"))
    old = await client.get(f"{API}/{created['id']}/export", params={"version": 1})
    assert json.loads(old.text)["name"] == "Greet"
    missing = await client.get(f"{API}/{created['id']}/export", params={"version": 7})
    assert missing.status_code == 404
    assert (await client.get(f"{API}/{created['id']}/export?format=xml")).status_code == 422


async def test_import_yaml_under_each_yaml_content_type(client):
    for content_type in ("application/yaml", "text/yaml", "application/x-yaml; charset=utf-8"):
        headers = {"content-type": content_type}
        response = await client.post(f"{API}/import", content=YAML_DOC.encode(), headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["name"] == "From YAML"
        text = response.json()["document"]["nodes"][1]["params"]["values"]["text"]
        assert text == "{{ trigger.who }}"


async def test_import_json_as_a_body_or_as_text(client):
    hooked = document(
        node("hook", "trigger.webhook", params={"path": "a"}),
        node("greet", "core.noop"),
        links=("hook -> greet",),
        name="A",
    )
    as_body = await client.post(f"{API}/import", json=hooked, params={"active": "true"})
    assert as_body.status_code == 201
    assert as_body.json()["active"] is True
    as_text = await client.post(
        f"{API}/import",
        content=json.dumps(greet("B")).encode(),
        headers={"content-type": "application/json"},
    )
    assert as_text.status_code == 201
    assert (await client.get(API)).json()["total"] == 2


async def test_importing_an_invalid_document_stores_nothing(client):
    broken = YAML_DOC.replace("core.set", "core.nope")
    response = await client.post(
        f"{API}/import", content=broken.encode(), headers={"content-type": "text/yaml"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["node"] == "greet"
    syntax = await client.post(
        f"{API}/import", content=b"nodes: [", headers={"content-type": "text/yaml"}
    )
    assert syntax.status_code == 422
    assert "not valid YAML" in syntax.json()["error"]["details"][0]["message"]
    assert (await client.get(API)).json()["total"] == 0


async def test_a_yaml_bomb_is_refused_without_expanding_it(client, server):
    server.settings = server.settings.model_copy(update={"max_workflow_bytes": 100_000})
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    bomb = "\n".join([*lines, "name: bomb", "vars: {boom: *a9}"])
    response = await client.post(
        f"{API}/import", content=bomb.encode(), headers={"content-type": "application/yaml"}
    )
    assert response.status_code == 422  # measured before anything is built from it
    assert "YAML aliases expand the document by" in response.text


async def test_a_self_containing_yaml_document_is_refused(client):
    loop = "name: loop\nvars: &v {again: *v}\n"
    response = await client.post(
        f"{API}/import", content=loop.encode(), headers={"content-type": "application/yaml"}
    )
    assert response.status_code == 422
    assert "refers to a value that contains it" in response.json()["error"]["details"][0]["message"]


async def test_import_refuses_documents_over_the_size_limit(client, server):
    server.settings = server.settings.model_copy(update={"max_workflow_bytes": 1000})
    big = greet(text="x" * 2000)
    as_text = await client.post(
        f"{API}/import", content=json.dumps(big), headers={"content-type": "application/json"}
    )
    assert as_text.status_code == 413
    as_body = await client.post(API, json=big)
    assert as_body.status_code == 413
    assert (await client.post(API, json=greet())).status_code == 201


async def test_import_refuses_other_content_types(client):
    response = await client.post(
        f"{API}/import",
        content=b"name=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
