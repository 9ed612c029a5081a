"""Live co-editing across API processes, with real processes: two ``tav serve`` in queue
mode (Redis broker, a PostgreSQL database of the test's own), and Yjs clients (pycrdt's
``Provider`` over WebSockets) in the room of one workflow through different processes.

People on two processes co-edit and converge; a change on one reaches the other live;
presence goes across; a room that opens later on either process starts from everything;
what is stored when everyone has left (and what a save makes a version) holds every
change exactly once; and a process killed with its room open loses nothing that reached
anyone else.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from typing import Any

import httpx
from pycrdt import Awareness, Doc, Map, create_awareness_message

from tav.collab.ydoc import read_document
from tav.storage.collab import DraftRepository
from tests.api.collab import eventually, joined
from tests.api.test_collab import chat_workflow
from tests.integration.queue.cluster import Cluster

PROMPT = "Answer: {{ trigger.question }}"
ROUNDS = 5


def base(client: httpx.AsyncClient) -> str:
    return str(client.base_url).rstrip("/")


def prompt_of(doc: Doc[Any]) -> str:
    return str(doc.get("nodes", type=Map)["answer"]["params"]["prompt"])


async def create(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/v1/workflows", json=chat_workflow(PROMPT))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def stored_document(cluster: Cluster, workflow_id: str) -> dict[str, Any]:
    """The draft as the database holds it, read back as a new room would."""
    db = await cluster.db()
    try:
        stored = await DraftRepository(db).load(workflow_id)
    finally:
        await db.close()
    assert stored is not None
    doc: Doc[Any] = Doc()
    for update in [stored.snapshot, *stored.updates]:
        if update is not None:
            doc.apply_update(update)
    return read_document(doc)


def normal(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its nodes and edges in one order (the server keeps the saved
    version's order, a client's replica the ids')."""
    return {
        **document,
        "nodes": sorted(document["nodes"], key=lambda node: node["id"]),
        "edges": sorted(document["edges"], key=lambda edge: (edge["from"], edge["to"])),
    }


def once_each(document: dict[str, Any], node_ids: set[str], words: list[str]) -> None:
    """Every node once, and every word typed into the prompt once."""
    ids = Counter(node["id"] for node in document["nodes"])
    assert set(ids) == node_ids, ids
    assert max(ids.values()) == 1, ids
    prompt = next(n for n in document["nodes"] if n["id"] == "answer")["params"]["prompt"]
    for word in words:
        assert prompt.count(word) == 1, (word, prompt)
    assert prompt.count(PROMPT) == 1, prompt


def type_into(doc: Doc[Any], node_id: str, word: str, *, at_end: bool) -> None:
    text = doc.get("nodes", type=Map)[node_id]["params"]["prompt"]
    text.insert(len(str(text).encode()) if at_end else 0, word)


async def test_two_editors_on_two_api_processes_co_edit_one_workflow(cluster: Cluster):
    _, first = await cluster.serve(TAV_COLLAB_FLUSH_S="5")
    _, second = await cluster.serve(TAV_COLLAB_FLUSH_S="5")
    async with first, second:
        one, two = base(first), base(second)
        workflow_id = await create(first)
        async with joined(one, workflow_id, cluster.headers) as alice:
            alice.meta["description"] = "before Bob came"  # the room opens on B after this
            await asyncio.sleep(0.3)
            async with joined(two, workflow_id, cluster.headers) as bob:
                assert bob.meta["description"] == "before Bob came"

                # live: a change on one process reaches a client on the other at once
                delays = []
                for round_ in range(ROUNDS):
                    started = time.monotonic()
                    alice.meta["name"] = f"round {round_}"
                    await eventually(
                        lambda r=round_: bob.meta.get("name") == f"round {r}", within=1
                    )
                    delays.append(time.monotonic() - started)
                print(f"A -> B: median {sorted(delays)[ROUNDS // 2] * 1000:.1f} ms")
                assert sorted(delays)[ROUNDS // 2] < 0.5

                # both at once: nodes added, params changed, typing in one prompt
                words_a, words_b = [], []
                for round_ in range(ROUNDS):
                    with alice.doc.transaction():
                        alice.nodes[f"a{round_}"] = Map({"type": "core.noop", "params": Map()})
                        alice.nodes["answer"]["params"]["temperature"] = round_ / 10
                        type_into(alice.doc, "answer", f"<alice{round_}>", at_end=False)
                    with bob.doc.transaction():
                        bob.nodes[f"b{round_}"] = Map({"type": "core.noop", "params": Map()})
                        bob.nodes["answer"]["params"]["max_tokens"] = 100 + round_
                        type_into(bob.doc, "answer", f"<bob{round_}>", at_end=True)
                    words_a.append(f"<alice{round_}>")
                    words_b.append(f"<bob{round_}>")
                    await asyncio.sleep(0.01)
                expected_ids = {"start", "answer", "result"} | {
                    f"{who}{n}" for who in "ab" for n in range(ROUNDS)
                }

                def converged() -> bool:
                    return (
                        read_document(alice.doc) == read_document(bob.doc)
                        and set(alice.nodes.keys()) == expected_ids
                    )

                await eventually(converged, within=5)
                document = read_document(alice.doc)
                once_each(document, expected_ids, words_a + words_b)
                params = alice.nodes["answer"]["params"].to_py()
                assert (params["temperature"], params["max_tokens"]) == (0.4, 104)

                # presence goes across too, stamped with who the connection is
                presence = Awareness(alice.doc)
                presence.set_local_state({"user": {"color": "#0af"}, "pointer": [1, 2]})
                update = presence.encode_awareness_update([alice.doc.client_id])
                await alice.connection.send(create_awareness_message(update))
                await eventually(lambda: any(b'"color":"#0af"' in m for m in bob.channel.others))

                # a room that opens later, on either process, starts from everything
                async with (
                    joined(two, workflow_id, cluster.headers) as carol,
                    joined(one, workflow_id, cluster.headers) as dave,
                ):
                    assert read_document(carol.doc) == document
                    assert read_document(dave.doc) == document
                    await eventually(
                        lambda: any(b'"color":"#0af"' in m for m in carol.channel.others)
                    )

        # everyone gone: the stored draft, each process's, and a save hold it all once
        await asyncio.sleep(0.3)
        assert normal(await stored_document(cluster, workflow_id)) == normal(document)
        for client in (first, second):
            draft = (await client.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
            assert normal(draft["document"]) == normal(document)
        saved = await second.post(f"/api/v1/workflows/{workflow_id}/draft/save")
        assert saved.status_code == 200, saved.text
        version = saved.json()
        assert version["version"] == 2
        once_each(version["document"], expected_ids, words_a + words_b)
        assert normal(version["document"])["nodes"] == normal(document)["nodes"]


async def test_a_process_killed_with_its_room_open_loses_nothing_that_reached_anyone(
    cluster: Cluster,
):
    dying, first = await cluster.serve(TAV_COLLAB_FLUSH_S="10")
    _, second = await cluster.serve(TAV_COLLAB_FLUSH_S="10")
    async with first, second:
        one, two = base(first), base(second)
        workflow_id = await create(second)
        kept: Doc[Any] = Doc()  # Alice's replica outlives her connection
        async with joined(two, workflow_id, cluster.headers) as bob:
            async with joined(one, workflow_id, cluster.headers, kept) as alice:
                for n in range(ROUNDS):
                    with alice.doc.transaction():
                        alice.nodes[f"a{n}"] = Map({"type": "core.noop", "params": Map()})
                        type_into(alice.doc, "answer", f"<alice{n}>", at_end=True)
                await eventually(lambda: f"a{ROUNDS - 1}" in bob.nodes)
                await eventually(lambda: f"<alice{ROUNDS - 1}>" in prompt_of(bob.doc))
                # everything Alice typed reached Bob: her process dies at once, long
                # before TAV_COLLAB_FLUSH_S, with her room open
                dying.signal(signal.SIGKILL)
                assert await dying.wait(10) == -signal.SIGKILL
                await alice.closed(within=10)

            # what it relayed was kept: a room that opens anew finds it
            stored = await stored_document(cluster, workflow_id)
            once_each(
                stored,
                {"start", "answer", "result"} | {f"a{n}" for n in range(ROUNDS)},
                [f"<alice{n}>" for n in range(ROUNDS)],
            )
            # Alice, offline, typed on; Bob typed too; she comes back through the other
            type_into(kept, "answer", "<offline>", at_end=False)
            type_into(bob.doc, "answer", "<bob>", at_end=True)
            async with joined(two, workflow_id, cluster.headers, kept):
                await eventually(lambda: "<offline>" in prompt_of(bob.doc))
                await eventually(lambda: read_document(kept) == read_document(bob.doc))
            document = read_document(bob.doc)
        _, third = await cluster.serve()
        async with third:
            draft = (await third.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
        assert normal(draft["document"]) == normal(document)
        once_each(
            document,
            {"start", "answer", "result"} | {f"a{n}" for n in range(ROUNDS)},
            [f"<alice{n}>" for n in range(ROUNDS)] + ["<offline>", "<bob>"],
        )


async def test_a_version_saved_while_two_processes_have_the_room_open_is_taken_in_once(
    cluster: Cluster,
):
    _, first = await cluster.serve()
    _, second = await cluster.serve()
    _, third = await cluster.serve()  # has no room of it open
    async with first, second, third:
        one, two = base(first), base(second)
        workflow_id = await create(first)
        async with (
            joined(one, workflow_id, cluster.headers) as alice,
            joined(two, workflow_id, cluster.headers) as bob,
        ):
            # saved from outside: each process notices it, one takes it in
            changed = chat_workflow("Now: {{ trigger.question }} and more")
            response = await third.put(f"/api/v1/workflows/{workflow_id}", json=changed)
            assert response.status_code == 200, response.text
            await eventually(lambda: prompt_of(alice.doc).startswith("Now:"), within=10)
            await asyncio.sleep(2.5)  # past the other's next check of the saved version
            assert (
                prompt_of(alice.doc)
                == prompt_of(bob.doc)
                == changed["nodes"][1]["params"]["prompt"]
            )

            # saved from the draft on one process while someone types on the other: the
            # other takes nothing in (it would undo what was typed after the save)
            type_into(alice.doc, "answer", "<saved>", at_end=True)
            await eventually(lambda: "<saved>" in prompt_of(bob.doc))
            saved = await first.post(f"/api/v1/workflows/{workflow_id}/draft/save")
            assert saved.status_code == 200, saved.text
            assert saved.json()["version"] == 3
            type_into(bob.doc, "answer", "<after>", at_end=True)
            await asyncio.sleep(7)  # past the saved workflows' cache, and a check
            expected = "Now: {{ trigger.question }} and more<saved><after>"
            assert prompt_of(alice.doc) == prompt_of(bob.doc) == expected
        for client in (first, second):
            draft = (await client.get(f"/api/v1/workflows/{workflow_id}/draft")).json()
            assert draft["version"] == 3
            assert draft["document"]["nodes"][1]["params"]["prompt"] == expected
