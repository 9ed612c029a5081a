"""Live co-editing in the editor, end to end: two people (an owner and an editor of the
team, each in a browser context of their own) in one workflow's live draft, a viewer who
only watches, a script saving over REST, and a Python Yjs client (pycrdt) in the same room.

Each test opens a workflow of its own, so that the rooms (one per workflow) never mix."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import OWNER, require_browser, screenshot, serve

require_browser()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

from tests.e2e.helpers import create_workflow, palette, same_origin  # noqa: E402

MOD = "Control"
EDITOR = {"email": "bob@example.com", "password": "bob's long password"}
VIEWER = {"email": "carol@example.com", "password": "carol's long password"}
DEMOTED = {"email": "dave@example.com", "password": "dave's long password"}

DOCUMENT: dict[str, Any] = {
    "schema": 1,
    "name": "Shared",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "ask", "type": "ai.llm_chat", "params": {"prompt": "Summarize this."}},
        {"id": "fetch", "type": "core.http_request", "params": {"url": "https://example.com/a"}},
    ],
    "edges": [{"from": "start", "to": "ask"}],
    "ui": {"positions": {"start": [0, 0], "ask": [300, 0], "fetch": [300, 200]}},
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def base_url(data_dir: Path) -> Iterator[str]:
    """``tav serve`` on the data dir where the team's members are made."""
    with serve(data_dir) as url:
        yield url


@pytest.fixture(scope="module")
def team(base_url: str, data_dir: Path, owner: dict[str, str]) -> None:
    """Editors and a viewer beside the owner, made with ``tav users create``."""
    for account, role in ((EDITOR, "editor"), (VIEWER, "viewer"), (DEMOTED, "editor")):
        command = ["users", "create", "--email", account["email"], "--role", role]
        subprocess.run(
            [sys.executable, "-m", "tav", *command, "--password", account["password"]],
            env={**os.environ, "TAV_DATA_DIR": str(data_dir), "TAV_LOG_LEVEL": "WARNING"},
            check=True,
            capture_output=True,
        )


@pytest.fixture
def people(
    browser: Browser, base_url: str, team: None, request: pytest.FixtureRequest
) -> Iterator[Callable[[dict[str, str]], Page]]:
    """Opens a browser context signed in as an account: one person; each page is
    screenshotted if the test fails, and must end without errors."""
    opened: list[tuple[Page, list[str]]] = []

    def person(account: dict[str, str]) -> Page:
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        assert context.request.post("/api/v1/auth/login", data=account).ok
        page.goto("/")
        page.get_by_role("heading", name="Workflows").wait_for()
        opened.append((page, errors))
        return page

    yield person
    from tests.e2e.conftest import REPORTS

    call = request.node.stash.get(REPORTS, {}).get("call")
    for index, (page, errors) in enumerate(opened):
        if call is not None and call.failed and not page.is_closed():
            screenshot(page, f"failed/{request.node.name}-{index}")
        page.context.close()
        assert not errors, f"errors in page {index}: {errors}"


def open_in(page: Page, workflow_id: str) -> None:
    page.goto(f"/workflows/{workflow_id}")
    page.locator('.canvas[data-ready="true"]').wait_for()


def together(
    person: Callable[[dict[str, str]], Page], document: dict[str, Any] = DOCUMENT
) -> tuple[Page, Page, str]:
    """The owner and the editor, both in a new workflow's live draft."""
    alice, bob = person(OWNER), person(EDITOR)
    workflow_id = create_workflow(alice, document)
    for page in (alice, bob):
        open_in(page, workflow_id)
    return alice, bob, workflow_id


def draft(page: Page, workflow_id: str) -> dict[str, Any]:
    """The live draft as the server holds it."""
    response = page.context.request.get(f"/api/v1/workflows/{workflow_id}/draft")
    assert response.ok, response.text()
    document: dict[str, Any] = response.json()["document"]
    return document


def node(document: dict[str, Any], node_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(n for n in document["nodes"] if n["id"] == node_id)
    return found


def eventually(check: Callable[[], Any], within: float = 5) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            result = check()
        except (AssertionError, KeyError, StopIteration):
            if time.monotonic() > deadline:
                raise
        else:
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {within} s")
        time.sleep(0.05)


def open_panel(page: Page, node_id: str) -> None:
    page.get_by_test_id(f"node-{node_id}").click()
    expect(page.get_by_label("Node settings").get_by_text(node_id, exact=True)).to_be_visible()


def test_a_node_one_adds_and_wires_reaches_the_other_within_500_ms(people) -> None:
    alice, bob, _ = together(people)
    # Clocks of one browser: when Alice clicks the node type, and when Bob's canvas has the
    # node and its edge.
    alice.evaluate(
        "() => addEventListener('click', (event) =>"
        " event.target.closest('.palette-item') && (window.clickedAt = Date.now()), true)"
    )
    bob.evaluate(
        """() => new MutationObserver((_, observer) => {
            if (document.querySelector('[data-testid="node-set"]')
                && document.querySelectorAll('.react-flow__edge').length === 2) {
              window.seenAt = Date.now()
              observer.disconnect()
            }
          }).observe(document.body, {childList: true, subtree: true})"""
    )
    alice.get_by_test_id("node-ask").click()
    palette(alice, "Set values").click()  # added after the selected node, and wired to it
    bob.get_by_test_id("node-set").wait_for()
    expect(bob.locator(".react-flow__edge")).to_have_count(2)
    took = bob.evaluate("() => window.seenAt") - alice.evaluate("() => window.clickedAt")
    assert 0 <= took < 500, f"Bob saw the node {took} ms after Alice added it"
    screenshot(bob, "collab-node-added")


def test_edits_of_two_nodes_at_once_both_survive(people) -> None:
    alice, bob, workflow_id = together(people)
    open_panel(alice, "fetch")
    open_panel(bob, "ask")
    url = alice.get_by_role("textbox", name="URL")
    temperature = bob.get_by_role("textbox", name="Temperature")
    url.fill("https://example.com/b")
    temperature.fill("0.5")

    def both() -> bool:
        document = draft(alice, workflow_id)
        return (
            node(document, "fetch")["params"]["url"] == "https://example.com/b"
            and node(document, "ask")["params"].get("temperature") == 0.5
        )

    eventually(both)
    open_panel(alice, "ask")
    expect(alice.get_by_role("textbox", name="Temperature")).to_have_value("0.5")
    open_panel(bob, "fetch")
    expect(bob.get_by_role("textbox", name="URL")).to_have_value("https://example.com/b")


def test_two_people_typing_into_one_prompt_merge(people) -> None:
    alice, bob, workflow_id = together(people)
    open_panel(alice, "ask")
    open_panel(bob, "ask")
    prompts = [page.get_by_role("textbox", name="Prompt") for page in (alice, bob)]
    prompts[0].click()
    alice.keyboard.press(f"{MOD}+Home")
    prompts[1].click()
    bob.keyboard.press(f"{MOD}+End")
    # Key by key, in turn: each lands in the other's text as they type, before their
    # caret (Alice's insertions push Bob's caret on) or after it (Bob's leave Alice's).
    for mine, theirs in zip_longest("Please ", " Thanks!"):
        if mine:
            alice.keyboard.type(mine)
        if theirs:
            bob.keyboard.type(theirs)
    merged = "Please Summarize this. Thanks!"
    for prompt in prompts:
        expect(prompt).to_have_value(merged)
    eventually(lambda: node(draft(alice, workflow_id), "ask")["params"]["prompt"] == merged)
    screenshot(alice, "collab-merged-prompt")


def test_offline_edits_sync_when_back_and_both_converge(people) -> None:
    alice, bob, workflow_id = together(people)
    bob.context.set_offline(True)
    expect(bob.get_by_test_id("offline")).to_have_text("offline — changes will sync")
    screenshot(bob, "collab-offline")
    # Bob keeps working, and so does Alice.
    bob.get_by_label("Workflow name").fill("Renamed offline")
    open_panel(alice, "fetch")
    alice.get_by_role("textbox", name="URL").fill("https://example.com/online")
    # What Bob did would be lost if he left now: he is asked.
    bob.get_by_role("button", name="← Workflows").click()
    dialog = bob.get_by_role("dialog", name="Leave before your changes sync?")
    dialog.get_by_role("button", name="Stay").click()
    expect(alice.get_by_label("Workflow name")).to_have_value("Shared")

    bob.context.set_offline(False)
    expect(bob.get_by_test_id("offline")).to_have_count(0)
    expect(alice.get_by_label("Workflow name")).to_have_value("Renamed offline")
    open_panel(bob, "fetch")
    expect(bob.get_by_role("textbox", name="URL")).to_have_value("https://example.com/online")
    document = draft(alice, workflow_id)
    assert document["name"] == "Renamed offline"
    assert node(document, "fetch")["params"]["url"] == "https://example.com/online"
    # Synced: leaving asks nothing now (the draft is kept by the server).
    bob.get_by_role("button", name="← Workflows").click()
    bob.get_by_role("heading", name="Workflows").wait_for()


def test_each_person_undoes_only_their_own_change(people) -> None:
    alice, bob, workflow_id = together(people)
    alice.get_by_label("Workflow name").fill("Alice's name")
    open_panel(bob, "fetch")
    bob.get_by_role("textbox", name="URL").fill("https://example.com/bob")
    expect(alice.get_by_label("Workflow name")).to_have_value("Alice's name")
    eventually(lambda: node(draft(alice, workflow_id), "fetch")["params"]["url"].endswith("/bob"))

    alice.get_by_test_id("node-start").click()  # out of the name box: the canvas's keys
    alice.keyboard.press(f"{MOD}+z")
    for page in (alice, bob):
        expect(page.get_by_label("Workflow name")).to_have_value("Shared")
    expect(bob.get_by_role("textbox", name="URL")).to_have_value("https://example.com/bob")

    bob.get_by_test_id("node-start").click()
    bob.keyboard.press(f"{MOD}+z")
    open_panel(alice, "fetch")
    expect(alice.get_by_role("textbox", name="URL")).to_have_value("https://example.com/a")
    expect(alice.get_by_label("Workflow name")).to_have_value("Shared")
    # And each redoes their own.
    alice.get_by_test_id("node-start").click()
    alice.keyboard.press(f"{MOD}+Shift+z")
    expect(bob.get_by_label("Workflow name")).to_have_value("Alice's name")
    document = draft(alice, workflow_id)
    assert document["name"] == "Alice's name"
    assert node(document, "fetch")["params"]["url"] == "https://example.com/a"


def test_a_rest_save_appears_live_and_a_save_reaches_everyone(people) -> None:
    alice, bob, workflow_id = together(people)
    expect(alice.get_by_test_id("saved")).to_be_visible()
    # A script saves a new version over REST while both have the workflow open.
    scripted = json.loads(json.dumps(DOCUMENT))
    scripted["nodes"].append({"id": "scripted", "type": "core.noop"})
    scripted["ui"]["positions"]["scripted"] = [600, 0]
    scripted["description"] = "saved by a script"
    response = alice.context.request.put(
        f"/api/v1/workflows/{workflow_id}",
        data=scripted,
        headers={**same_origin(alice), "If-Match": '"1"'},
    )
    assert response.ok, response.text()
    for page in (alice, bob):
        page.get_by_test_id("node-scripted").wait_for()
        expect(page.get_by_test_id("version")).to_have_text("v2")
        expect(page.get_by_test_id("saved")).to_be_visible()

    # Bob changes the draft: it differs from version 2 for both of them; Alice saves it.
    bob.get_by_label("Workflow name").fill("Shared, edited")
    expect(alice.get_by_test_id("unsaved")).to_be_visible()
    alice.get_by_test_id("node-start").click()
    alice.keyboard.press(f"{MOD}+s")
    alice.get_by_role("status").filter(has_text="Saved as version 3").wait_for()
    for page in (alice, bob):
        expect(page.get_by_test_id("version")).to_have_text("v3")
        expect(page.get_by_test_id("saved")).to_be_visible()
    stored = alice.context.request.get(f"/api/v1/workflows/{workflow_id}").json()
    assert stored["version"] == 3
    assert stored["document"]["name"] == "Shared, edited"


def test_the_others_are_seen_where_they_point_and_what_they_select(people) -> None:
    alice, bob, _ = together(people)
    avatar = bob.get_by_test_id("peer-avatar")
    expect(avatar).to_have_attribute("aria-label", OWNER["email"])
    expect(alice.get_by_test_id("peer-avatar")).to_have_attribute("aria-label", EDITOR["email"])

    # Bob zooms out: Alice's pointer still lands on the node she points at.
    bob.get_by_test_id("node-start").click()
    bob.keyboard.press("-")
    bob.keyboard.press("-")
    bob.keyboard.press("Escape")  # his panel closed: the canvas, wide
    box = alice.get_by_test_id("node-ask").bounding_box()
    assert box
    alice.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    pointer = bob.get_by_test_id("peer-pointer")
    expect(pointer).to_be_visible()
    expect(pointer).to_contain_text(OWNER["email"])
    time.sleep(0.3)  # the zoom's animation
    tip = pointer.bounding_box()
    target = bob.get_by_test_id("node-ask").bounding_box()
    assert tip
    assert target
    assert target["x"] <= tip["x"] <= target["x"] + target["width"]
    assert target["y"] <= tip["y"] <= target["y"] + target["height"]

    # Alice selects a node and opens its panel: Bob sees it marked with her colour.
    open_panel(alice, "fetch")
    marks = bob.get_by_test_id("node-fetch").get_by_test_id("peer-marks")
    expect(marks).to_contain_text("✎ owner")
    expect(bob.get_by_test_id("node-fetch")).to_have_class(re.compile(r"\bpeer-marked\b"))
    screenshot(bob, "collab-presence")
    alice.keyboard.press("Escape")
    expect(marks).to_have_count(0)


def test_a_viewer_watches_without_changing_anything(people) -> None:
    alice = people(OWNER)
    carol = people(VIEWER)
    workflow_id = create_workflow(alice, DOCUMENT)
    open_in(alice, workflow_id)
    open_in(carol, workflow_id)
    expect(carol.get_by_test_id("view-only")).to_be_visible()
    expect(carol.get_by_label("Node palette")).to_have_count(0)
    expect(carol.get_by_role("button", name="Save")).to_be_disabled()
    open_panel(carol, "fetch")
    expect(carol.get_by_role("textbox", name="URL")).to_be_disabled()
    # Delete on the selected node changes nothing, here or for the others.
    carol.get_by_test_id("node-fetch").click()
    carol.keyboard.press("Delete")
    expect(carol.get_by_label("Workflow name")).not_to_be_editable()
    expect(carol.get_by_test_id("node-fetch")).to_be_visible()
    # What the others change reaches the viewer.
    alice.get_by_label("Workflow name").fill("Watched")
    expect(carol.get_by_label("Workflow name")).to_have_value("Watched")
    screenshot(carol, "collab-view-only")
    assert draft(alice, workflow_id)["name"] == "Watched"
    assert any(n["id"] == "fetch" for n in draft(alice, workflow_id)["nodes"])


def test_an_editor_made_a_viewer_meanwhile_is_refused_and_sees_the_draft_as_it_is(
    people,
) -> None:
    alice = people(OWNER)
    dave = people(DEMOTED)
    workflow_id = create_workflow(alice, DOCUMENT)
    for page in (alice, dave):
        open_in(page, workflow_id)
    members = alice.context.request.get("/api/v1/users").json()
    dave_id = next(m["id"] for m in members if m["email"] == DEMOTED["email"])
    response = alice.context.request.patch(
        f"/api/v1/users/{dave_id}", data={"role": "viewer"}, headers=same_origin(alice)
    )
    assert response.ok, response.text()
    dave.wait_for_timeout(2_500)  # the server checks each connection again every second

    dave.get_by_label("Workflow name").fill("Dave's change")
    dave.get_by_role("alert").filter(has_text="View only: read-only").wait_for()
    expect(dave.get_by_test_id("view-only")).to_be_visible()
    expect(dave.get_by_label("Workflow name")).to_have_value("Shared")  # as the server has it
    expect(dave.get_by_label("Workflow name")).not_to_be_editable()
    assert draft(alice, workflow_id)["name"] == "Shared"
    expect(alice.get_by_label("Workflow name")).to_have_value("Shared")
    # Still in the room: what the others change reaches him.
    alice.get_by_label("Workflow name").fill("Changed by Alice")
    expect(dave.get_by_label("Workflow name")).to_have_value("Changed by Alice")


class PythonClient:
    """A Yjs client in Python (pycrdt) in a room, on an asyncio loop of its own thread,
    signed in with the browser's session cookie."""

    def __init__(self, base_url: str, workflow_id: str, cookie: str) -> None:
        from pycrdt import Doc

        self.url = base_url.replace("http://", "ws://") + f"/api/v1/workflows/{workflow_id}/collab"
        self.headers = {"Cookie": cookie, "Origin": base_url}
        self.doc: Any = Doc()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stop: asyncio.Event | None = None
        self.synced: Future[None] = Future()
        self.done: Future[None] = self.run(self._serve())

    def run(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def _serve(self) -> None:
        import websockets
        from pycrdt import Provider

        from tests.api.collab import Channel

        self.stop = asyncio.Event()
        connecting = websockets.connect(self.url, additional_headers=self.headers)
        async with connecting as ws, Provider(self.doc, Channel(ws)) as provider:
            await provider.synced.wait()
            self.synced.set_result(None)
            await self.stop.wait()

    def edit(self, change: Callable[[Any], None]) -> None:
        """``change(doc)`` in one transaction, on the client's loop."""

        async def apply() -> None:
            with self.doc.transaction():
                change(self.doc)

        self.run(apply()).result(5)

    def read(self, look: Callable[[Any], Any]) -> Any:
        async def read() -> Any:
            return look(self.doc)

        return self.run(read()).result(5)

    def close(self) -> None:
        if self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        try:
            self.done.result(5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()  # its self-pipe sockets, or a later test hears of them unclosed


def test_a_python_yjs_client_and_the_browser_share_one_room(people, base_url: str) -> None:
    from pycrdt import Map, Text

    alice = people(OWNER)
    workflow_id = create_workflow(alice, DOCUMENT)
    open_in(alice, workflow_id)
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in alice.context.cookies())
    client = PythonClient(base_url, workflow_id, cookie)
    try:
        client.synced.result(10)
        # Python -> browser: the workflow's name and a character typed into the prompt.
        client.edit(lambda doc: doc.get("meta", type=Map).__setitem__("name", "From Python"))

        def type_into_prompt(doc: Any) -> None:
            prompt = doc.get("nodes", type=Map)["ask"]["params"]["prompt"]
            assert isinstance(prompt, Text)
            prompt.insert(0, ">> ")

        client.edit(type_into_prompt)
        expect(alice.get_by_label("Workflow name")).to_have_value("From Python")
        open_panel(alice, "ask")
        expect(alice.get_by_role("textbox", name="Prompt")).to_have_value(">> Summarize this.")

        # Browser -> Python: a param, and a node added.
        alice.get_by_role("textbox", name="Prompt").press("End")
        alice.keyboard.type(" Now.")
        palette(alice, "No operation").click()

        def seen(doc: Any) -> bool:
            nodes = doc.get("nodes", type=Map)
            return str(nodes["ask"]["params"]["prompt"]) == ">> Summarize this. Now." and (
                "noop" in nodes
            )

        eventually(lambda: client.read(seen))
    finally:
        client.close()
