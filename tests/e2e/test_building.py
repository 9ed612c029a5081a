"""Building a workflow in the editor, end to end: new and selected nodes in view, leaving
with changes not synced, object params as rows of name and value, the "+" after an output
port, node cards, edges with arrowheads, Markdown descriptions with links to the docs, and
saves that never overwrite a concurrent save."""

from __future__ import annotations

import json
import re
import time

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import Locator, Page, Request, expect  # noqa: E402

from tests.e2e.helpers import (  # noqa: E402
    create_workflow,
    open_workflow,
    same_origin,
    stored_document,
)

MOD = "Control"


def document(
    name: str, nodes: list[dict[str, object]], edges: list[dict[str, str]], **positions: list[int]
) -> dict[str, object]:
    return {
        "schema": 1,
        "name": name,
        "nodes": nodes,
        "edges": edges,
        "ui": {"positions": positions},
    }


def setting(name: str, values: dict[str, object]) -> dict[str, object]:
    """A manual trigger, then a core.set node ``set`` of ``values``."""
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {"id": "set", "type": "core.set", "params": {"values": values}},
    ]
    return document(name, nodes, [{"from": "start", "to": "set"}], start=[0, 0], set=[280, 0])


def palette_item(page: Page, node_type: str) -> Locator:
    return page.locator(f'.palette-item[data-type="{node_type}"]')


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found, f"{selector} is not on the page"
    return found


def in_view(page: Page, node_id: str) -> bool:
    """Whether the whole node is inside the canvas, clear of the panel beside it."""
    node = box(page, f'[data-testid="node-{node_id}"]')
    canvas = box(page, ".canvas")
    return (
        node["x"] >= canvas["x"]
        and node["y"] >= canvas["y"]
        and node["x"] + node["width"] <= canvas["x"] + canvas["width"]
        and node["y"] + node["height"] <= canvas["y"] + canvas["height"]
    )


def wait_in_view(page: Page, node_id: str) -> None:
    deadline = time.monotonic() + 5
    while not in_view(page, node_id):
        assert time.monotonic() < deadline, f"node {node_id} is not in view"
        time.sleep(0.05)


def test_new_and_selected_nodes_are_in_view(page) -> None:
    # Far apart: fitted to the canvas, "set" ends near its right edge, where the node panel
    # opens when it is selected.
    workflow_id = create_workflow(
        page,
        document(
            "In view",
            [{"id": "start", "type": "trigger.manual"}, {"id": "set", "type": "core.set"}],
            [{"from": "start", "to": "set"}],
            start=[0, 0],
            set=[700, 0],
        ),
    )
    open_workflow(page, workflow_id)
    page.get_by_test_id("node-set").click()
    page.get_by_role("complementary", name="Node settings").wait_for()
    wait_in_view(page, "set")
    panel = box(page, ".panel")
    assert box(page, '[data-testid="node-set"]')["x"] < panel["x"]

    # Added after the selected node, to its right: the canvas follows it.
    palette_item(page, "core.noop").click()
    page.get_by_test_id("node-noop").wait_for()
    wait_in_view(page, "noop")
    wait_in_view(page, "set")  # both fit: the view moved no further than it had to
    expect(page.locator(".react-flow__edge")).to_have_count(2)

    # Added with nothing selected: in the middle of what is in view.
    page.keyboard.press("Escape")
    palette_item(page, "core.delay").click()
    page.get_by_test_id("node-delay").wait_for()
    wait_in_view(page, "delay")
    screenshot(page, "added-in-view")


def test_leaving_asks_only_when_changes_would_be_lost(page) -> None:
    """The live draft keeps every change, saved as a version or not: leaving asks nothing,
    and the draft is there when the workflow opens again. Only a change made offline, not
    synced yet, would be lost: then leaving asks first."""
    workflow_id = create_workflow(
        page, document("Leave me", [{"id": "start", "type": "trigger.manual"}], [], start=[0, 0])
    )
    page.reload()
    row = page.get_by_test_id("workflow-row").filter(has_text="Leave me")
    row.get_by_role("link").first.click()
    page.get_by_test_id("node-start").wait_for()
    page.get_by_label("Workflow name").fill("Leave me, edited")
    page.get_by_test_id("unsaved").wait_for()
    page.get_by_role("button", name="← Workflows").click()
    page.get_by_role("heading", name="Workflows").wait_for()
    assert stored_document(page, workflow_id)["name"] == "Leave me"
    row.get_by_role("link").first.click()
    expect(page.get_by_label("Workflow name")).to_have_value("Leave me, edited")
    page.get_by_test_id("unsaved").wait_for()

    # Offline, a change stays in this browser until the connection is back.
    page.context.set_offline(True)
    page.get_by_test_id("offline").wait_for()
    page.get_by_label("Workflow name").fill("Leave me, offline")
    dialog = page.get_by_role("dialog", name="Leave before your changes sync?")
    page.get_by_role("button", name="← Workflows").click()
    dialog.wait_for()
    screenshot(page, "leave-dialog")
    dialog.get_by_role("button", name="Stay").click()
    expect(dialog).to_have_count(0)
    assert page.url.endswith(f"/workflows/{workflow_id}")

    # The browser's back button asks too, and the editor stays until the answer.
    page.go_back()
    dialog.wait_for()
    assert page.url.endswith(f"/workflows/{workflow_id}")
    dialog.get_by_role("button", name="Stay").click()

    # Back online, the change syncs: nothing to ask any more.
    page.context.set_offline(False)
    expect(page.get_by_test_id("offline")).to_have_count(0)
    page.get_by_role("button", name="← Workflows").click()
    page.get_by_role("heading", name="Workflows").wait_for()
    draft = page.context.request.get(f"/api/v1/workflows/{workflow_id}/draft").json()
    assert draft["document"]["name"] == "Leave me, offline"


def test_closing_with_changes_not_synced_asks_the_browser_first(page) -> None:
    workflow_id = create_workflow(
        page, document("Reload me", [{"id": "start", "type": "trigger.manual"}], [], start=[0, 0])
    )
    open_workflow(page, workflow_id)
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.get_by_label("Workflow name").click()  # the page has had a gesture: it may ask
    page.get_by_label("Workflow name").fill("Reload me, edited")
    page.get_by_test_id("unsaved").wait_for()
    page.reload()  # in the live draft: nothing to lose, nothing asked
    page.locator('.canvas[data-ready="true"]').wait_for()
    expect(page.get_by_label("Workflow name")).to_have_value("Reload me, edited")
    assert asked == []

    page.context.set_offline(True)
    page.get_by_test_id("offline").wait_for()
    page.get_by_label("Workflow name").click()  # a gesture again, since the reload
    page.get_by_label("Workflow name").fill("Reload me, offline")
    page.close(run_before_unload=True)
    deadline = time.monotonic() + 5
    while asked != ["beforeunload"]:
        assert time.monotonic() < deadline, f"asked {asked}"
        page.wait_for_timeout(50)  # (the sync API hands over events while it waits)
    assert not page.is_closed()  # asked, and told to stay
    # Back online, the change syncs, and the page closes without a question.
    page.context.set_offline(False)
    expect(page.get_by_test_id("offline")).to_have_count(0)
    expect(page.get_by_test_id("unsaved")).to_be_visible()
    page.close(run_before_unload=True)
    assert asked == ["beforeunload"]


def test_object_params_are_rows_of_name_and_value(page) -> None:
    workflow_id = create_workflow(page, setting("Rows", {"greeting": "Hi", "count": 3}))
    open_workflow(page, workflow_id)
    page.get_by_test_id("node-set").click()
    form = page.get_by_test_id("kv-values")
    expect(form.get_by_role("textbox", name="Values: name 1")).to_have_value("greeting")
    expect(form.get_by_role("textbox", name="Values: value 1")).to_have_value("Hi")
    expect(form.get_by_role("textbox", name="Values: value 2")).to_have_value("3")
    expect(form.get_by_role("button", name="Values: value 2 is JSON")).to_have_attribute(
        "aria-pressed", "true"
    )

    # A new row, whose value suggests what a template can read.
    form.get_by_role("button", name="+ Add a value").click()
    name = form.get_by_role("textbox", name="Values: name 3")
    expect(name).to_be_focused()
    name.fill("who")
    value = form.get_by_role("textbox", name="Values: value 3")
    value.press_sequentially("{{ nodes.")
    suggestions = page.get_by_role("listbox", name="Suggestions")
    suggestions.get_by_role("option", name="start").click()
    value.press_sequentially(".output.name }}")
    expect(value).to_have_value("{{ nodes.start.output.name }}")

    # Reordered, then the first removed.
    form.get_by_role("button", name="Move Values: row 3 up").click()
    expect(form.get_by_role("textbox", name="Values: name 2")).to_have_value("who")
    form.get_by_role("button", name="Remove Values: row 1").click()
    expect(form.get_by_role("textbox", name="Values: name 1")).to_have_value("who")

    # A name given twice is said, and the param keeps its last good value.
    form.get_by_role("textbox", name="Values: name 2").fill("who")
    expect(form.get_by_text("“who” is already set above")).to_be_visible()
    form.get_by_role("textbox", name="Values: name 2").fill("total")
    expect(form.get_by_text("is already set above")).to_have_count(0)
    page.get_by_test_id("valid").wait_for()
    screenshot(page, "key-value-form")

    # The raw JSON view shows the same object, and edits there show in the rows.
    form.get_by_role("button", name="JSON", exact=True).click()
    raw = form.get_by_role("textbox", name="Values", exact=True)
    assert json.loads(raw.input_value()) == {"who": "{{ nodes.start.output.name }}", "total": 3}
    raw.fill('{"who": "Ada", "total": 4, "tags": ["x"]}')
    form.get_by_role("button", name="Fields", exact=True).click()
    expect(form.get_by_role("textbox", name="Values: value 3")).to_have_value('["x"]')

    # The rows stay in the order they were put in while the workflow is open.
    names = form.locator("input.kv-name")
    expect(names).to_have_count(3)
    assert [names.nth(i).input_value() for i in range(3)] == ["who", "total", "tags"]

    page.keyboard.press(f"{MOD}+s")
    page.get_by_test_id("saved").wait_for()
    params = stored_document(page, workflow_id)["nodes"][1]["params"]
    assert params == {"values": {"who": "Ada", "total": 4, "tags": ["x"]}}


def test_the_rows_of_an_object_param_are_saved_in_their_order(page) -> None:
    workflow_id = create_workflow(page, setting("Ordered rows", {"a": 1}))
    open_workflow(page, workflow_id)
    page.get_by_test_id("node-set").click()
    form = page.get_by_test_id("kv-values")
    form.get_by_role("button", name="JSON", exact=True).click()
    order = ["who", "total", "tags", "zeta", "alpha", "mid", "omega", "beta"]
    form.get_by_role("textbox", name="Values", exact=True).fill(
        json.dumps({key: index for index, key in enumerate(order)})
    )
    page.get_by_test_id("unsaved").wait_for()
    page.keyboard.press(f"{MOD}+s")
    page.get_by_test_id("saved").wait_for()
    values = stored_document(page, workflow_id)["nodes"][1]["params"]["values"]
    assert list(values) == order


def test_moving_a_row_alone_is_a_change_to_save(page) -> None:
    workflow_id = create_workflow(page, setting("Moved rows", {"a": 1, "b": 2, "c": 3}))
    open_workflow(page, workflow_id)
    page.get_by_test_id("saved").wait_for()
    page.get_by_test_id("node-set").click()
    form = page.get_by_test_id("kv-values")
    form.get_by_role("button", name="Move Values: row 3 up").click()
    page.get_by_test_id("unsaved").wait_for()
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_test_id("saved").wait_for()
    assert list(stored_document(page, workflow_id)["nodes"][1]["params"]["values"]) == [
        "a",
        "c",
        "b",
    ]
    # Opened again, the rows are in that order and the draft is the saved version.
    open_workflow(page, workflow_id)
    page.get_by_test_id("node-set").click()
    names = page.get_by_test_id("kv-values").locator("input.kv-name")
    expect(names).to_have_count(3)
    assert [names.nth(i).input_value() for i in range(3)] == ["a", "c", "b"]
    expect(page.get_by_test_id("saved")).to_be_visible()


def test_a_plus_on_an_output_port_adds_and_connects_the_next_node(page) -> None:
    workflow_id = create_workflow(
        page,
        document(
            "Branches",
            [
                {"id": "start", "type": "trigger.manual"},
                {"id": "check", "type": "core.if", "params": {"condition": "{{ trigger.ok }}"}},
            ],
            [{"from": "start", "to": "check"}],
            start=[0, 0],
            check=[280, 0],
        ),
    )
    open_workflow(page, workflow_id)
    page.get_by_role("button", name="Add a node after check (false)").click()
    banner = page.get_by_test_id("adding-after")
    expect(banner).to_contain_text("Add after check")
    expect(banner).to_contain_text("false")
    search = page.get_by_role("textbox", name="Search nodes")
    expect(search).to_be_focused()
    expect(page.locator('.palette-item[data-type="trigger.manual"]')).to_have_count(0)
    search.fill("no operation")
    search.press("Enter")
    page.get_by_test_id("node-noop").wait_for()
    expect(banner).to_have_count(0)
    wait_in_view(page, "noop")

    # The "true" port, from the palette by a click this time; Escape gives up adding.
    page.get_by_role("button", name="Add a node after check (true)").click()
    search.press("Escape")
    expect(banner).to_have_count(0)
    page.get_by_role("button", name="Add a node after check (true)").click()
    palette_item(page, "core.set").click()
    page.get_by_test_id("node-set").wait_for()
    screenshot(page, "added-after-port")

    page.keyboard.press(f"{MOD}+s")
    page.get_by_test_id("saved").wait_for()
    saved = stored_document(page, workflow_id)
    assert {"from": "check:false", "to": "noop"} in saved["edges"]
    assert {"from": "check:true", "to": "set"} in saved["edges"]
    positions = saved["ui"]["positions"]
    assert positions["noop"][0] > positions["check"][0]
    assert positions["set"][1] < positions["noop"][1]  # "true" is the first port, above


def test_node_cards_read_name_then_type_and_edges_have_arrowheads(page) -> None:
    workflow_id = create_workflow(
        page,
        document(
            "Cards",
            [
                {"id": "start", "type": "trigger.manual"},
                {"id": "greet", "type": "core.set", "name": "Greeting"},
                {"id": "set_2", "type": "core.set"},
                {"id": "boom", "type": "core.fail", "params": {"message": "no"}},
            ],
            [
                {"from": "start", "to": "greet"},
                {"from": "greet", "to": "set_2"},
                {"from": "set_2", "to": "boom"},
            ],
            start=[0, 0],
            greet=[280, 0],
            set_2=[560, 0],
            boom=[840, 0],
        ),
    )
    open_workflow(page, workflow_id)
    greet = page.get_by_test_id("node-greet")
    expect(greet.locator(".tav-node-title")).to_have_text("Greeting")
    expect(greet.locator(".tav-node-type")).to_have_text("Set values")
    expect(page.get_by_test_id("node-set_2").locator(".tav-node-title")).to_have_text("set_2")

    # Renamed on the card.
    page.get_by_test_id("node-set_2").locator(".tav-node-title").dblclick()
    title = page.get_by_role("textbox", name="Name of set_2")
    title.fill("Shout")
    title.press("Enter")
    expect(page.get_by_test_id("node-set_2").locator(".tav-node-title")).to_have_text("Shout")
    # Escape leaves the name as it was.
    page.get_by_test_id("node-greet").locator(".tav-node-title").dblclick()
    page.get_by_role("textbox", name="Name of greet").fill("Nope")
    page.get_by_role("textbox", name="Name of greet").press("Escape")
    expect(greet.locator(".tav-node-title")).to_have_text("Greeting")

    markers = page.locator(".react-flow__edge path.react-flow__edge-path")
    expect(markers).to_have_count(3)
    for index in range(3):
        assert re.match(r"url\(['\"]?#", markers.nth(index).get_attribute("marker-end") or "")
    boom = page.get_by_test_id("node-boom")
    expect(boom.locator(".react-flow__handle.source")).to_have_count(0)
    expect(boom.locator(".port-add")).to_have_count(0)
    expect(greet.locator(".react-flow__handle.source")).to_have_count(1)
    screenshot(page, "node-cards")

    page.keyboard.press(f"{MOD}+s")
    page.get_by_test_id("saved").wait_for()
    nodes = {node["id"]: node for node in stored_document(page, workflow_id)["nodes"]}
    assert nodes["set_2"]["name"] == "Shout"
    assert nodes["greet"]["name"] == "Greeting"


def test_descriptions_are_markdown_with_links_to_the_docs(page) -> None:
    workflow_id = create_workflow(
        page,
        document(
            "Docs",
            [
                {"id": "hook", "type": "trigger.webhook", "params": {"path": "docs-test"}},
                {
                    "id": "fetch",
                    "type": "core.http_request",
                    "params": {"url": "http://127.0.0.1:9/"},
                },
            ],
            [{"from": "hook", "to": "fetch"}],
            hook=[0, 0],
            fetch=[280, 0],
        ),
    )
    open_workflow(page, workflow_id)
    webhook_item = page.locator('.palette-item[data-type="trigger.webhook"] .palette-desc')
    expect(webhook_item.locator("code").first).to_have_text("/webhook/<path>")
    assert "`" not in webhook_item.inner_text()

    page.get_by_test_id("node-hook").click()
    description = page.locator(".panel-desc")
    expect(description.locator("code").first).to_have_text("/webhook/<path>")
    assert "`" not in description.inner_text()
    link = description.get_by_role("link", name="docs/reference/triggers.md")
    expect(link).to_have_attribute("href", "/guide/reference/triggers.md")
    expect(link).to_have_attribute("target", "_blank")

    # Labels in sentence case, acronyms in capitals.
    page.get_by_test_id("node-fetch").click()
    labels = page.locator(".panel .field-label")
    expect(page.locator('.panel [data-field="url"] .field-label')).to_contain_text("URL")
    expect(page.locator('.panel [data-field="timeout_s"] .field-label')).to_contain_text(
        "Timeout (s)"
    )
    expect(page.locator('.panel [data-field="fail_on_status"]')).to_contain_text("Fail on status")
    for text in labels.all_inner_texts():
        assert not re.search(r"\b(Url|Json|Api)\b", text), text
    screenshot(page, "markdown-descriptions")


def test_saves_name_their_version_and_never_overwrite_another_save(page) -> None:
    """Save makes the live draft a numbered version. A version saved elsewhere meanwhile
    (a script's PUT) reaches the draft as one change, so the next save keeps it."""
    workflow_id = create_workflow(
        page, document("Guarded", [{"id": "start", "type": "trigger.manual"}], [], start=[0, 0])
    )
    open_workflow(page, workflow_id)
    sent: list[str] = []

    def keep_save(request: Request) -> None:
        if request.method in ("PUT", "POST") and f"/api/v1/workflows/{workflow_id}" in request.url:
            sent.append(f"{request.method} {request.url.split(workflow_id)[1]}")

    page.on("request", keep_save)
    page.get_by_label("Workflow name").fill("Guarded, first")
    page.keyboard.press(f"{MOD}+s")
    page.get_by_role("status").filter(has_text="Saved as version 2").wait_for()
    page.get_by_test_id("saved").wait_for()
    assert sent == ["POST /draft/save"]

    # Someone else saves version 3 from version 2 meanwhile: the draft takes it in.
    theirs = stored_document(page, workflow_id) | {"description": "their change"}
    response = page.context.request.put(
        f"/api/v1/workflows/{workflow_id}",
        data=theirs,
        headers={**same_origin(page), "If-Match": '"2"'},
    )
    assert response.ok, response.text()
    expect(page.get_by_test_id("version")).to_have_text("v3")

    page.get_by_label("Workflow name").fill("Guarded, second")
    page.get_by_test_id("unsaved").wait_for()
    page.keyboard.press(f"{MOD}+s")
    page.get_by_role("status").filter(has_text="Saved as version 4").wait_for()
    stored = page.context.request.get(f"/api/v1/workflows/{workflow_id}").json()
    assert stored["version"] == 4
    assert stored["document"]["name"] == "Guarded, second"
    assert stored["document"]["description"] == "their change"
