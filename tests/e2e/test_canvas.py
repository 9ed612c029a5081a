"""Canvas tools end to end: copy and paste between workflows (with and without the
Clipboard API), sticky notes, tidy up, and an AI node's tokens, provider and usage."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import (  # noqa: E402
    create_workflow,
    open_workflow,
    same_origin,
    stored_document,
)
from tests.fakes.llm import FakeProviders, Reply  # noqa: E402

MOD = "Control"


def two_nodes(name: str) -> dict[str, object]:
    return {
        "schema": 1,
        "name": name,
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "greet", "type": "core.set", "params": {"values": {"text": "hi"}}},
            {
                "id": "shout",
                "type": "core.set",
                "params": {"values": {"text": "{{ nodes.greet.output.text | upper }}"}},
            },
        ],
        "edges": [{"from": "start", "to": "greet"}, {"from": "greet", "to": "shout"}],
        # Out of order on purpose: tidy up puts them in a line.
        "ui": {"positions": {"start": [0, 0], "greet": [-300, 300], "shout": [500, -250]}},
    }


def empty(name: str) -> dict[str, object]:
    return {"schema": 1, "name": name, "nodes": [{"id": "start", "type": "trigger.manual"}]}


def test_nodes_are_copied_into_another_workflow(page) -> None:
    source = create_workflow(page, two_nodes("Copy from"))
    target = create_workflow(page, empty("Paste into"))
    open_workflow(page, source)
    page.get_by_test_id("node-greet").click()
    page.get_by_test_id("node-shout").click(modifiers=["Shift"])
    page.keyboard.press(f"{MOD}+c")
    page.get_by_role("status").filter(has_text="Copied 2 items").wait_for()

    open_workflow(page, target)
    page.keyboard.press(f"{MOD}+v")
    page.get_by_test_id("node-greet").wait_for()
    page.get_by_test_id("node-shout").wait_for()
    expect(page.locator(".react-flow__edge")).to_have_count(1)  # the edge between them
    page.keyboard.press(f"{MOD}+v")  # again: new ids, and the template follows
    page.get_by_test_id("node-greet_2").wait_for()
    page.keyboard.press(f"{MOD}+s")
    page.get_by_test_id("saved").wait_for()
    document = stored_document(page, target)
    # Saved from the live draft: the nodes the last version had first, the new ones by id.
    nodes = {node["id"]: node for node in document["nodes"]}
    assert list(nodes) == ["start", "greet", "greet_2", "shout", "shout_2"]
    assert nodes["shout_2"]["params"] == {
        "values": {"text": "{{ nodes.greet_2.output.text | upper }}"}
    }
    assert {"from": "greet_2", "to": "shout_2"} in document["edges"]


def test_copy_and_paste_work_without_the_clipboard_api(browser, base_url, owner) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    # Pages served over plain HTTP from another host than localhost have no Clipboard API.
    context.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    try:
        page = context.new_page()
        assert context.request.post("/api/v1/auth/login", data=owner).ok
        page.goto("/")  # the origin create_workflow sends, as the editor's own requests do
        workflow_id = create_workflow(page, two_nodes("No clipboard"))
        open_workflow(page, workflow_id)
        page.get_by_test_id("node-greet").click(button="right")
        page.get_by_role("menuitem", name=re.compile("^Copy")).click()
        pane = page.locator(".react-flow__pane")
        pane.click(button="right", position={"x": 100, "y": 100})
        page.get_by_role("menuitem", name=re.compile("^Paste")).click()
        page.get_by_test_id("node-greet_2").wait_for()
    finally:
        context.close()


def test_sticky_notes_and_tidy_up(page) -> None:
    workflow_id = create_workflow(page, two_nodes("Notes"))
    open_workflow(page, workflow_id)
    page.get_by_role("button", name="Tidy up").click()
    pane = page.locator(".react-flow__pane")
    box = pane.bounding_box()
    assert box
    pane.click(button="right", position={"x": box["width"] / 2 - 200, "y": box["height"] / 2 + 60})
    page.get_by_role("menuitem", name=re.compile("^Add a note here")).click()
    page.get_by_label("Note text").fill("Greets first, then shouts.")
    pane.click(position={"x": 40, "y": 40})
    page.keyboard.press(f"{MOD}+s")
    page.get_by_test_id("saved").wait_for()

    document = stored_document(page, workflow_id)
    [note] = document["ui"]["notes"]
    assert note["text"] == "Greets first, then shouts."
    positions = document["ui"]["positions"]
    assert positions["start"][0] < positions["greet"][0] < positions["shout"][0]
    assert positions["start"][1] == positions["greet"][1] == positions["shout"][1]

    page.reload()
    note_element = page.get_by_test_id(f"note-{note['id']}")
    expect(note_element).to_contain_text("Greets first, then shouts.")
    screenshot(page, "notes")
    note_element.click()
    page.keyboard.press("Delete")
    note_element.wait_for(state="detached")
    page.get_by_test_id("unsaved").wait_for()
    page.keyboard.press(f"{MOD}+z")
    note_element.wait_for()


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        yield fake


def test_an_ai_node_shows_its_tokens_live_then_its_provider_and_usage(
    page, fake_llm: FakeProviders
) -> None:
    credential = page.context.request.post(
        "/api/v1/credentials",
        data={
            "name": "Fake OpenAI",
            "kind": "openai",
            "data": {"api_key": "sk-fake-e2e-1234", "base_url": fake_llm.url("openai")},
        },
        headers=same_origin(page),
    ).json()
    document = {
        "schema": 1,
        "name": "Ask",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "ask",
                "type": "ai.llm_chat",
                "params": {
                    "prompt": "{{ trigger.question }}",
                    "models": [{"credential": credential["id"], "model": "gpt-test"}],
                },
            },
        ],
        "edges": [{"from": "start", "to": "ask"}],
        "ui": {"positions": {"start": [0, 0], "ask": [280, 0]}},
    }
    answer = "Paris is the capital of France, on the Seine."
    fake_llm.reply("openai", Reply(text=answer, usage=(12, 9), token_delay_s=0.12))
    workflow_id = create_workflow(page, document)
    open_workflow(page, workflow_id)
    page.get_by_test_id("node-ask").click()
    page.get_by_role("tab", name="Output").click()

    page.keyboard.press(f"{MOD}+Enter")
    page.get_by_label("Run input").fill('{"question": "Capital of France?"}')
    page.get_by_role("button", name=re.compile("^Run")).last.click()
    progress = page.get_by_test_id("node-progress")
    # The first AI node of a process loads the model libraries first (seconds on a busy machine).
    expect(progress).to_contain_text("Paris is", timeout=20_000)
    # Seen while the node still runs: the tokens arrive one by one.
    assert page.get_by_test_id("node-ask").get_attribute("data-status") == "running"
    assert progress.inner_text() != answer
    page.locator('[data-testid="node-ask"][data-status="succeeded"]').wait_for()
    expect(progress).to_have_text(answer)
    usage = page.get_by_test_id("ai-usage")
    expect(usage).to_contain_text("openai")
    expect(usage).to_contain_text("gpt-test")
    expect(usage).to_contain_text("12 in · 9 out · 21 total")
    expect(page.get_by_test_id("runbar")).to_contain_text("21 total tokens")
    screenshot(page, "ai-usage")
