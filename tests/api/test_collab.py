"""Live co-editing over real WebSockets, on SQLite and PostgreSQL: people in one room
converge, typing merges, the draft survives a restart, REST saves and deletes reach the
room, and the draft is read and saved over HTTP (triggers keep running saved versions)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Map, Text

from tav.app.root import build
from tav.app.server import Server
from tav.collab.protocol import CloseCode
from tav.collab.ydoc import read_document
from tav.settings import Settings
from tests.api.collab import eventually, joined
from tests.api.triggers import http_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def chat_workflow(prompt: str = "Answer: {{ trigger.question }}") -> dict[str, Any]:
    return {
        "schema": 1,
        "name": "Answer a question",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "answer", "type": "ai.llm_chat", "params": {"prompt": prompt}},
            {"id": "result", "type": "core.output"},
        ],
        "edges": [{"from": "start", "to": "answer"}, {"from": "answer", "to": "result"}],
        "ui": {"positions": {"start": [0, 0], "answer": [220, 0], "result": [440, 0]}},
    }


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"collab_flush_s": 0.05})


@pytest.fixture
async def key(server: Server) -> str:
    _, secret = await server.parts.auth.create_api_key("tests")
    return secret


@pytest.fixture
def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def base(server: Server):
    async with http_server(server) as url:
        yield url


@pytest.fixture
async def http(base: str, headers: dict[str, str]):
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        yield client


@pytest.fixture
async def workflow_id(http: httpx.AsyncClient) -> str:
    response = await http.post("/api/v1/workflows", json=chat_workflow())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_two_clients_in_one_room_converge(base, workflow_id, headers):
    async with (
        joined(base, workflow_id, headers) as alice,
        joined(base, workflow_id, headers) as bob,
    ):
        assert sorted(alice.nodes.keys()) == ["answer", "result", "start"]
        assert isinstance(alice.nodes["answer"]["params"]["prompt"], Text)
        assert alice.nodes["answer"]["position"] == [220, 0]
        with alice.doc.transaction():
            alice.nodes["fetch"] = Map({"type": "core.http_request", "params": Map({})})
            alice.nodes["answer"]["position"] = [300, 40]
        bob.meta["name"] = "Renamed by Bob"
        await eventually(lambda: "fetch" in bob.nodes)
        await eventually(lambda: alice.meta["name"] == "Renamed by Bob")
        await eventually(lambda: bob.nodes["answer"]["position"] == [300, 40])
        assert read_document(alice.doc) == read_document(bob.doc)


async def test_two_people_typing_in_one_prompt_merge_character_by_character(
    base, workflow_id, headers, http
):
    async with (
        joined(base, workflow_id, headers) as alice,
        joined(base, workflow_id, headers) as bob,
    ):
        for word in ("Please ", "now "):  # at the start, at once, in one text
            with alice.doc.transaction():
                alice.text("answer", "prompt").insert(0, word)
            with bob.doc.transaction():
                prompt = bob.text("answer", "prompt")
                prompt.insert(len(str(prompt).encode()), " Be brief" if word == "now " else "!")
        expected = "now Please Answer: {{ trigger.question }}! Be brief"
        await eventually(lambda: str(alice.text("answer", "prompt")) == expected)
        await eventually(lambda: str(bob.text("answer", "prompt")) == expected)
    draft = (await http.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
    assert draft["document"]["nodes"][1]["params"]["prompt"] == expected


async def test_the_draft_outlives_a_restart_of_the_server_and_clients_converge_again(
    server, settings, workflow_id, headers, key
):
    replica: Doc[Any] = Doc()
    async with http_server(server) as base, joined(base, workflow_id, headers, replica) as alice:
        alice.text("answer", "prompt").insert(0, "Kept: ")
        await eventually(
            lambda: "Kept" in json.dumps(server.parts.collab.rooms[workflow_id].draft())
        )
        await asyncio.sleep(0.3)  # written (TAV_COLLAB_FLUSH_S is 0.05 here)
    # Alice typed more while the server was away.
    text = replica.get("nodes", type=Map)["answer"]["params"]["prompt"]
    text.insert(len(str(text).encode()), " (offline)")
    await server.stop(timeout_s=0)

    again = Server(build(settings))
    await again.start(prune=False)
    try:
        async with (
            http_server(again) as base,
            joined(base, workflow_id, headers, replica) as alice,
            joined(base, workflow_id, headers) as bob,
        ):
            expected = "Kept: Answer: {{ trigger.question }} (offline)"
            await eventually(lambda: str(bob.text("answer", "prompt")) == expected)
            assert str(alice.text("answer", "prompt")) == expected
    finally:
        await again.stop(timeout_s=0)


async def test_a_rest_save_appears_in_connected_clients_as_one_change(
    base, workflow_id, headers, http
):
    async with joined(base, workflow_id, headers) as alice:
        alice.text("answer", "prompt").insert(0, "Typed: ")
        await asyncio.sleep(0.2)  # the typing reached the server
        updates: list[bytes] = []
        alice.doc.observe(lambda event: updates.append(event.update))
        changed = chat_workflow("Answer shortly: {{ trigger.question }}")
        changed["name"] = "Saved over REST"
        changed["nodes"].append({"id": "extra", "type": "core.noop"})
        response = await http.put(f"/api/v1/workflows/{workflow_id}", json=changed)
        assert response.status_code == 200, response.text
        await eventually(lambda: alice.meta["name"] == "Saved over REST")
        assert "extra" in alice.nodes
        assert str(alice.text("answer", "prompt")) == "Answer shortly: {{ trigger.question }}"
        assert len(updates) == 1  # one change, not a stream of them
        draft = (await http.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
        assert draft["version"] == 2
        assert draft["document"] == changed | {"ui": changed["ui"]}


async def test_restoring_a_version_appears_in_connected_clients(base, workflow_id, headers, http):
    changed = chat_workflow("Second version")
    assert (await http.put(f"/api/v1/workflows/{workflow_id}", json=changed)).status_code == 200
    async with joined(base, workflow_id, headers) as alice:
        assert str(alice.text("answer", "prompt")) == "Second version"
        response = await http.post(f"/api/v1/workflows/{workflow_id}/versions/1/restore")
        assert response.status_code == 200, response.text
        await eventually(
            lambda: str(alice.text("answer", "prompt")) == "Answer: {{ trigger.question }}"
        )


async def test_deleting_the_workflow_closes_its_room(base, workflow_id, headers, http):
    async with (
        joined(base, workflow_id, headers) as alice,
        joined(base, workflow_id, headers) as bob,
    ):
        assert (await http.delete(f"/api/v1/workflows/{workflow_id}")).status_code == 204
        for client in (alice, bob):
            code, reason = await client.closed()
            assert code == CloseCode.NOT_FOUND
            assert reason == "the workflow was deleted"


async def test_the_draft_is_read_with_its_problems_and_saved_as_a_version(
    base, workflow_id, headers, http
):
    async with joined(base, workflow_id, headers) as alice:
        with alice.doc.transaction():
            alice.text("answer", "prompt").insert(0, "Draft: ")
            alice.nodes["broken"] = Map({"type": "no.such_type"})
        await asyncio.sleep(0.2)
        response = await http.get(f"/api/v1/workflows/{workflow_id}/draft")
        assert response.status_code == 200
        assert response.headers["etag"] == '"1"'
        draft = response.json()
        assert draft["version"] == 1
        assert draft["valid"] is False
        assert [p["node"] for p in draft["problems"]] == ["broken"]
        assert draft["document"]["nodes"][1]["params"]["prompt"].startswith("Draft: ")

        refused = await http.post(f"/api/v1/workflows/{workflow_id}/draft/save")
        assert refused.status_code == 422
        assert refused.json()["error"]["details"][0]["node"] == "broken"

        del alice.nodes["broken"]
        await asyncio.sleep(0.2)
        saved = await http.post(
            f"/api/v1/workflows/{workflow_id}/draft/save", headers={"If-Match": '"1"'}
        )
        assert saved.status_code == 200, saved.text
        assert saved.headers["etag"] == '"2"'
        assert saved.json()["document"]["nodes"][1]["params"]["prompt"].startswith("Draft: ")
        stale = await http.post(
            f"/api/v1/workflows/{workflow_id}/draft/save", headers={"If-Match": '"1"'}
        )
        assert stale.status_code == 409
        assert stale.json()["error"]["details"]["current_version"] == 2
        # saving changed nothing in the room: the people in it go on typing
        assert str(alice.text("answer", "prompt")).startswith("Draft: ")
        draft = (await http.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
        assert draft["version"] == 2
        assert draft["valid"] is True


async def test_a_draft_nobody_saved_is_not_what_runs(base, workflow_id, headers, http):
    hook = {
        "schema": 1,
        "name": "hook",
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "params": {"path": "collab-draft"}},
            {"id": "say", "type": "core.set", "params": {"values": {"said": "saved"}}},
            {"id": "result", "type": "core.output"},
        ],
        "edges": [{"from": "hook", "to": "say"}, {"from": "say", "to": "result"}],
    }
    created = await http.post("/api/v1/workflows?active=true", json=hook)
    assert created.status_code == 201, created.text
    hook_id = created.json()["id"]
    async with joined(base, hook_id, headers) as alice:
        with alice.doc.transaction():
            alice.nodes["say"]["params"]["values"] = {"said": "draft"}
        await asyncio.sleep(0.2)
        draft = (await http.get(f"/api/v1/workflows/{hook_id}/draft")).json()
        assert draft["document"]["nodes"][1]["params"]["values"] == {"said": "draft"}
        run = await http.post("/webhook/collab-draft", json={})
        assert run.status_code == 202, run.text
        execution = await _ended(http, run.json()["execution_id"])
        assert execution["status"] == "succeeded"
        assert execution["output"] == {"said": "saved"}


async def _ended(http: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            execution = (await http.get(f"/api/v1/executions/{execution_id}")).json()
            if execution["status"] not in ("queued", "running"):
                return dict(execution)
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda path: path.stem)
async def test_the_draft_of_every_example_is_the_saved_document(http, path):
    document = json.loads(path.read_text())
    created = await http.post("/api/v1/workflows", json=document)
    assert created.status_code == 201, created.text
    draft = (await http.get(f"/api/v1/workflows/{created.json()['id']}/draft")).json()
    assert draft["document"] == created.json()["document"]
    assert draft["valid"] is True


async def test_the_draft_of_an_unknown_workflow_is_404(http):
    response = await http.get(f"/api/v1/workflows/{'0' * 32}/draft")
    assert response.status_code == 404


async def test_a_room_nobody_is_in_is_unloaded_and_its_draft_kept_as_one_snapshot(
    server, settings, base, workflow_id, headers, http
):
    server.parts.collab.limits = replace(server.parts.collab.limits, idle_s=0.2)
    async with joined(base, workflow_id, headers) as alice:
        for word in ("one ", "two ", "three "):
            alice.text("answer", "prompt").insert(0, word)
            await asyncio.sleep(0.1)  # three batches, three rows
    await eventually(lambda: workflow_id not in server.parts.collab.rooms)
    await server.parts.collab.draft(workflow_id)  # opens again once the unload is written
    stored = await server.parts.collab.store.load(workflow_id)
    assert stored is not None
    assert list(stored.updates) == []  # folded into the snapshot
    doc: Doc[Any] = Doc()
    doc.apply_update(stored.snapshot)
    answer = {node["id"]: node for node in read_document(doc)["nodes"]}["answer"]
    assert answer["params"]["prompt"].startswith("three two one ")
    draft = (await http.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
    assert draft["document"]["nodes"][1]["params"]["prompt"].startswith("three two one ")


async def test_joining_while_the_room_unloads_gets_what_it_had_not_written_yet(
    server, base, workflow_id, headers
):
    """Unloading writes the room's last changes; a person who joins meanwhile waits for
    that, rather than open a room without them (whose next snapshot would drop them)."""
    rooms = server.parts.collab
    rooms.limits = replace(rooms.limits, idle_s=0.1, flush_s=60)  # typing stays unwritten
    compact = rooms.store.compact
    compacting = asyncio.Event()

    async def slow_compact(*args: Any) -> None:
        compacting.set()
        await asyncio.sleep(0.5)
        await compact(*args)

    async with joined(base, workflow_id, headers) as alice:
        await eventually(lambda: workflow_id in rooms.rooms)
        rooms.store.compact = slow_compact  # type: ignore[method-assign]
        alice.text("answer", "prompt").insert(0, "unwritten ")
        await eventually(lambda: "unwritten" in str(rooms.rooms[workflow_id].draft()))
    await asyncio.wait_for(compacting.wait(), 5)  # the room is being unloaded
    async with joined(base, workflow_id, headers) as bob:
        assert str(bob.text("answer", "prompt")).startswith("unwritten ")
    rooms.store.compact = compact  # type: ignore[method-assign]


async def test_a_draft_written_before_objects_were_json_text_is_saved_in_the_saved_order(
    server, http
):
    # Objects held as plain values: the server's Yjs keeps them as hash maps.
    order = ["who", "total", "tags", "zeta", "alpha", "mid", "omega", "beta"]
    values = {key: index for index, key in enumerate(order)}
    document = {
        "schema": 1,
        "name": "Ordered",
        "vars": dict(values),
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "set", "type": "core.set", "params": {"values": values}},
        ],
        "edges": [{"from": "start", "to": "set"}],
        "ui": {"positions": {"start": [0, 0], "set": [220, 0]}},
    }
    created = await http.post("/api/v1/workflows", json=document)
    assert created.status_code == 201, created.text
    workflow_id = str(created.json()["id"])
    old: Doc[Any] = Doc()
    nodes, edges, meta = (old.get(name, type=Map) for name in ("nodes", "edges", "meta"))
    with old.transaction():
        nodes["start"] = Map({"type": "trigger.manual", "position": [0, 0]})
        params = Map({"values": {**values, "added": 8}})  # a row added in the draft
        nodes["set"] = Map({"type": "core.set", "params": params, "position": [220, 0]})
        edges["start:output->set:input"] = Map({"from": "start", "to": "set"})
        meta.update({"schema": 1, "name": "Ordered", "vars": dict(values)})
    assert await server.parts.collab.store.create(workflow_id, old.get_update(), 1)

    draft = (await http.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
    assert list(draft["document"]["nodes"][1]["params"]["values"]) == [*order, "added"]
    saved = await http.post(f"/api/v1/workflows/{workflow_id}/draft/save")
    assert saved.status_code == 200, saved.text
    assert list(saved.json()["document"]["nodes"][1]["params"]["values"]) == [*order, "added"]
    assert list(saved.json()["document"]["vars"]) == order
    # The draft holds them as JSON text from then on, kept as any change.
    room = server.parts.collab.rooms[workflow_id]
    await room.flush()
    stored = await server.parts.collab.store.load(workflow_id)
    assert stored is not None
    kept: Doc[Any] = Doc()
    for update in [stored.snapshot, *stored.updates]:
        if update is not None:
            kept.apply_update(update)
    assert set(kept.get("meta", type=Map)["vars"]) == {"$json"}
