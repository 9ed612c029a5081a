"""Who may join a room and what a connection may send: handshakes without credentials or
from another site are refused, a viewer watches but cannot change the draft, a disabled
user is closed out within a second, and a malformed, oversized or flooding client is
closed alone while the room goes on untouched."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets
from pycrdt import Awareness, Doc, Map, create_awareness_message, write_message

from tav.app.server import Server
from tav.collab import protocol
from tav.collab.protocol import CloseCode, MessageType
from tav.collab.ydoc import read_document
from tav.core.roles import Role
from tav.settings import Settings
from tests.api.collab import eventually, joined, room_url
from tests.api.test_collab import chat_workflow
from tests.api.triggers import http_server


@pytest.fixture
def database() -> str:
    return "sqlite"  # what is checked here is the protocol; both databases: test_collab.py


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "collab_flush_s": 0.05,
            "collab_max_message_bytes": 64 * 1024,
            "collab_max_messages_per_s": 50,
            "collab_max_peers": 3,
        }
    )


@pytest.fixture
async def owner(server: Server) -> Any:
    return await server.parts.auth.create_owner("owner@example.com", "correct horse battery")


@pytest.fixture
async def headers(server: Server, owner: Any) -> dict[str, str]:
    _, secret = await server.parts.auth.create_api_key("owner's", user_id=owner.id)
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def base(server: Server):
    async with http_server(server) as url:
        yield url


@pytest.fixture
async def workflow_id(base: str, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        response = await http.post("/api/v1/workflows", json=chat_workflow())
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


async def member(server: Server, email: str, role: Role) -> tuple[Any, str]:
    """A team member and a session cookie of theirs."""
    user = await server.parts.auth.create_user(email, "correct horse battery", role)
    token = await server.parts.auth.create_session(user, timedelta(hours=1))
    return user, f"tav_session={token}"


async def refused(url: str, headers: dict[str, str]) -> int:
    """The HTTP status a refused handshake got."""
    with pytest.raises(websockets.InvalidStatus) as raised:
        async with websockets.connect(url, additional_headers=headers):
            pass
    return raised.value.response.status_code


def room_document(server: Server, workflow_id: str) -> dict[str, Any]:
    return read_document(server.parts.collab.rooms[workflow_id].doc)


# -- handshakes ----------------------------------------------------------------------------


async def test_a_handshake_without_valid_credentials_is_refused(base, workflow_id):
    url = room_url(base, workflow_id)
    assert await refused(url, {}) == 403
    assert await refused(url, {"Authorization": "Bearer tav_not_a_key"}) == 403
    assert await refused(url, {"Cookie": "tav_session=expired-or-made-up"}) == 403


async def test_a_handshake_from_another_site_is_refused_even_with_the_owners_cookie(
    server, base, workflow_id, owner
):
    token = await server.parts.auth.create_session(owner, timedelta(hours=1))
    cookie = {"Cookie": f"tav_session={token}"}
    url = room_url(base, workflow_id)
    assert await refused(url, {**cookie, "Origin": "http://evil.example"}) == 403
    assert await refused(url, {**cookie, "Origin": "null"}) == 403
    port = base.rsplit(":", 1)[1]
    assert await refused(url, {**cookie, "Origin": f"http://127.0.0.1:{int(port) + 1}"}) == 403
    async with joined(base, workflow_id, {**cookie, "Origin": base}) as client:
        assert "answer" in client.nodes  # the editor's own origin


async def test_a_public_origin_may_open_the_room(server, settings, workflow_id, headers):
    server.parts.settings_service.settings = settings.model_copy(
        update={"public_origins": ["https://tav.example.com"]}
    )
    async with http_server(server) as base:
        url = room_url(base, workflow_id)
        assert await refused(url, {**headers, "Origin": "https://other.example.com"}) == 403
        async with joined(base, workflow_id, {**headers, "Origin": "https://tav.example.com"}):
            pass


async def test_the_room_of_an_unknown_workflow_cannot_be_opened(base, headers):
    assert await refused(room_url(base, "0" * 32), headers) == 404
    assert await refused(room_url(base, "not-an-id"), headers) == 404


# -- roles ---------------------------------------------------------------------------------


async def test_a_viewer_sees_the_draft_but_its_changes_are_refused(
    server, base, workflow_id, headers
):
    _, cookie = await member(server, "viewer@example.com", Role.viewer)
    async with (
        joined(base, workflow_id, headers) as editor,
        joined(base, workflow_id, {"Cookie": cookie}) as viewer,
    ):
        assert "answer" in viewer.nodes
        before = room_document(server, workflow_id)
        with viewer.doc.transaction():
            viewer.nodes["answer"]["params"]["temperature"] = 2
            viewer.meta["name"] = "Changed by a viewer"
        denied = await eventually(
            lambda: [m for m in viewer.channel.others if m[0] == MessageType.AUTH]
        )
        assert denied[0] == protocol.permission_denied(
            "read-only: your role cannot change this workflow"
        )
        # neither applied nor relayed; the editor's changes still reach the viewer
        editor.meta["description"] = "by the editor"
        await eventually(lambda: viewer.meta.get("description") == "by the editor")
        assert room_document(server, workflow_id) == before | {"description": "by the editor"}
        assert editor.meta["name"] == "Answer a question"
        assert "temperature" not in editor.nodes["answer"]["params"]


async def test_a_viewers_awareness_reaches_the_others(server, base, workflow_id, headers):
    _, cookie = await member(server, "viewer@example.com", Role.viewer)
    async with (
        joined(base, workflow_id, headers) as editor,
        joined(base, workflow_id, {"Cookie": cookie}) as viewer,
    ):
        presence = Awareness(viewer.doc)
        presence.set_local_state({"user": {"name": "Vic", "color": "#0af"}})
        update = presence.encode_awareness_update([viewer.doc.client_id])
        await viewer.connection.send(create_awareness_message(update))

        def seen() -> bool:
            return any(b'"color":"#0af"' in m for m in editor.channel.others)

        await eventually(seen)
        assert not any(m[0] == MessageType.AUTH for m in viewer.channel.others)

    # the viewer gone, the others are told at once (not after the awareness timeout)
    async with joined(base, workflow_id, headers) as later:
        await asyncio.sleep(0.2)
        assert not any(b"#0af" in m for m in later.channel.others)


async def test_nobody_appears_in_the_room_as_someone_else(
    server, base, workflow_id, headers, owner
):
    user, cookie = await member(server, "mallory@example.com", Role.editor)
    states = server.parts.collab.rooms  # by workflow id, once the room is open
    async with (
        joined(base, workflow_id, headers) as first,
        joined(base, workflow_id, {"Cookie": cookie}) as mallory,
    ):
        # what a client says of itself is stamped with who the connection is
        presence = Awareness(mallory.doc)
        disguise = {"id": owner.id, "name": "owner@example.com", "color": "#f00"}
        presence.set_local_state({"user": disguise, "selected": ["ask"]})
        update = presence.encode_awareness_update([mallory.doc.client_id])
        await mallory.connection.send(create_awareness_message(update))

        def state_of(client: int) -> Any:
            return states[workflow_id].awareness.states[client]

        seen = await eventually(lambda: state_of(mallory.doc.client_id))
        assert seen["user"] == {"id": user.id, "name": "mallory@example.com", "color": "#f00"}
        assert seen["selected"] == ["ask"]
        await eventually(lambda: any(b"mallory@example.com" in m for m in first.channel.others))
        assert not any(owner.id.encode() in m for m in first.channel.others)

        # nor can a connection speak for a client of another: what it says of it is left out
        mine = Awareness(first.doc)
        mine.set_local_state({"user": {"color": "#0f0"}})
        await first.connection.send(
            create_awareness_message(mine.encode_awareness_update([first.doc.client_id]))
        )
        await eventually(lambda: state_of(first.doc.client_id))
        forged = protocol.awareness_update([(first.doc.client_id, 99, {"user": {"id": "x"}})])
        async with websockets.connect(
            room_url(base, workflow_id), additional_headers={"Cookie": cookie}
        ) as ws:
            await ws.send(create_awareness_message(forged))
            await ws.send(bytes([MessageType.QUERY_AWARENESS]))  # answered after the above
            awareness = 0
            while awareness < 2:  # everyone's on joining, then the answer
                message = await asyncio.wait_for(ws.recv(), 5)
                awareness += message[0] == MessageType.AWARENESS
            assert ws.close_code is None
        kept = state_of(first.doc.client_id)
        assert kept["user"] == {"id": owner.id, "name": "owner@example.com", "color": "#0f0"}


async def test_a_user_lowered_to_viewer_can_no_longer_change_the_draft(server, base, workflow_id):
    user, cookie = await member(server, "editor@example.com", Role.editor)
    async with joined(base, workflow_id, {"Cookie": cookie}) as client:
        client.meta["description"] = "allowed"
        await eventually(lambda: room_document(server, workflow_id).get("description"))
        await server.parts.users.set_role(user.id, Role.viewer)
        await asyncio.sleep(1.5)  # credentials are checked again once a second
        client.meta["description"] = "refused"
        await eventually(lambda: any(m[0] == MessageType.AUTH for m in client.channel.others))
        assert room_document(server, workflow_id)["description"] == "allowed"


async def test_disabling_a_user_closes_their_connections_within_a_second(
    server, base, workflow_id, headers, owner
):
    user, cookie = await member(server, "editor@example.com", Role.editor)
    _, key = await server.parts.auth.create_api_key("scripts", user_id=user.id)
    async with (
        joined(base, workflow_id, {"Cookie": cookie}) as browser,
        joined(base, workflow_id, {"Authorization": f"Bearer {key}"}) as script,
        joined(base, workflow_id, headers) as other,
    ):
        started = time.monotonic()
        await server.parts.users_service.disable(user.id, by=None)
        for client in (browser, script):
            code, reason = await client.closed(within=1)
            assert code == CloseCode.UNAUTHORIZED
            assert reason == "the user was disabled"
        assert time.monotonic() - started < 1
        other.meta["description"] = "still here"
        await eventually(lambda: room_document(server, workflow_id).get("description"))


async def test_a_user_disabled_by_another_process_is_closed_out_within_a_second_or_so(
    server, base, workflow_id
):
    user, cookie = await member(server, "editor@example.com", Role.editor)
    async with joined(base, workflow_id, {"Cookie": cookie}) as browser:
        started = time.monotonic()
        # as `tav users disable` does it, from a process whose listeners are not this one's
        await server.parts.users.disable(user.id)
        code, _ = await browser.closed(within=3)
        assert code == CloseCode.UNAUTHORIZED
        assert time.monotonic() - started < 2.5


async def test_a_session_that_ends_closes_its_connection(server, base, workflow_id, owner):
    token = await server.parts.auth.create_session(owner, timedelta(hours=1))
    async with joined(base, workflow_id, {"Cookie": f"tav_session={token}"}) as browser:
        await server.parts.auth.end_session(token)  # signed out in another tab
        code, reason = await browser.closed(within=3)
        assert code == CloseCode.UNAUTHORIZED
        assert reason == "the credentials are no longer valid"


# -- hostile messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\x07",  # no such message type
        b"\x00\x05",  # no such sync step
        b"\x00\x02\x10abc",  # an update shorter than it says
        b"\x00\x02\x03\xff\xff\xff",  # an update that does not decode
        b"\x00\x00\x02\xff\xff",  # a state vector that does not decode
        b"\x00\x02\x02\x00\x00extra",  # bytes after the message
        b"\x01\x0f\x01\x01\x01\x0bnot json!!!",  # an awareness state that is not JSON
        b"\x01\x07\x01\x01\x01\x03[1]",  # an awareness state that is not an object
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # a number longer than 53 bits
        "a text message",
    ],
    ids=repr,
)
async def test_a_malformed_message_closes_that_connection_and_the_room_goes_on(
    server, base, workflow_id, headers, message: bytes | str
):
    async with joined(base, workflow_id, headers) as bystander:
        before = room_document(server, workflow_id)
        async with websockets.connect(
            room_url(base, workflow_id), additional_headers=headers
        ) as ws:
            await ws.send(message)
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == CloseCode.MALFORMED
        assert room_document(server, workflow_id) == before
        bystander.meta["description"] = "the room goes on"
        await eventually(lambda: room_document(server, workflow_id).get("description"))


async def test_garbage_never_breaks_the_room(server, base, workflow_id, headers):
    """Random bytes behind valid headers: each connection is closed, none applies
    anything, and the server stays up."""
    rng = random.Random(7)
    await server.parts.collab.open(workflow_id)
    before = room_document(server, workflow_id)
    closed = 0
    for _ in range(60):
        kind = rng.choice([b"\x00\x01", b"\x00\x02", b"\x01"])
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        framed = rng.random() < 0.5
        async with websockets.connect(
            room_url(base, workflow_id), additional_headers=headers
        ) as ws:
            await ws.send(kind + write_message(body) if framed else kind + body)
            with contextlib.suppress(websockets.ConnectionClosed):  # closed already
                await ws.send(protocol.sync_step1(b"\x00"))
            with contextlib.suppress(websockets.ConnectionClosed):
                async for message in ws:  # until the answer to the step 1, or the close
                    if isinstance(message, bytes) and message[:2] == b"\x00\x01":
                        break
            closed += ws.close_code == CloseCode.MALFORMED
    assert closed > 30
    assert room_document(server, workflow_id) == before
    async with joined(base, workflow_id, headers) as client:
        assert read_document(client.doc) == before


async def test_an_oversized_message_closes_that_connection(server, base, workflow_id, headers):
    async with joined(base, workflow_id, headers) as bystander:
        before = room_document(server, workflow_id)
        async with websockets.connect(
            room_url(base, workflow_id), additional_headers=headers
        ) as ws:
            doc: Doc[Any] = Doc()
            doc.get("meta", type=Map)["huge"] = "x" * (70 * 1024)
            await ws.send(protocol.sync_update(doc.get_update()))
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == CloseCode.TOO_BIG
        assert room_document(server, workflow_id) == before
        assert "huge" not in bystander.meta


async def test_a_flood_of_updates_closes_that_connection(server, base, workflow_id, headers):
    async with joined(base, workflow_id, headers) as bystander:
        async with websockets.connect(
            room_url(base, workflow_id), additional_headers=headers
        ) as ws:
            doc: Doc[Any] = Doc()
            meta = doc.get("meta", type=Map)
            with contextlib.suppress(websockets.ConnectionClosed):
                for count in range(2_000):
                    state = doc.get_state()
                    meta["flood"] = count
                    await ws.send(protocol.sync_update(doc.get_update(state)))
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == CloseCode.TOO_MANY_MESSAGES
        # what came before the flood was too much is in the room, and the room goes on
        bystander.meta["description"] = "calm again"
        await eventually(lambda: room_document(server, workflow_id).get("description"))
        assert isinstance(room_document(server, workflow_id)["flood"], int)


async def test_a_room_takes_a_bounded_number_of_people(base, workflow_id, headers):
    async with (
        joined(base, workflow_id, headers),
        joined(base, workflow_id, headers),
        joined(base, workflow_id, headers),
        websockets.connect(room_url(base, workflow_id), additional_headers=headers) as ws,
    ):
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == CloseCode.TRY_AGAIN_LATER
    async with joined(base, workflow_id, headers):
        pass  # room again once someone left


async def test_a_server_keeps_a_bounded_number_of_rooms_open(server, base, headers):
    server.parts.collab.limits = replace(server.parts.collab.limits, max_rooms=1)
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        ids = []
        for name in ("first", "second", "third"):
            created = await http.post("/api/v1/workflows", json=chat_workflow() | {"name": name})
            ids.append(created.json()["id"])
        second = room_url(base, ids[1])
        async with (
            joined(base, ids[0], headers),
            websockets.connect(second, additional_headers=headers) as ws,
        ):
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == CloseCode.TRY_AGAIN_LATER
            assert "being edited on this server" in (ws.close_reason or "")
        # nobody in the first room any more: it is unloaded to make room for another
        async with joined(base, ids[2], headers) as client:
            assert "answer" in client.nodes
        assert list(server.parts.collab.rooms) == [ids[2]]
