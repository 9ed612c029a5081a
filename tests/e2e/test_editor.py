"""The editor end to end: first run, building and running a workflow, failures, undo/redo,
import and export."""

from __future__ import annotations

import json
import re
import time

from tests.e2e.conftest import OWNER, require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import (  # noqa: E402
    create_workflow,
    drag_edge,
    import_text,
    open_workflow,
    palette,
)

MOD = "Control"


def test_first_run_creates_the_owner_then_signs_in_and_out(new_page) -> None:
    page = new_page
    page.goto("/")
    page.get_by_role("heading", name="Create the owner account").wait_for()
    screenshot(page, "setup")
    page.get_by_label("Email").fill(OWNER["email"])
    page.get_by_label("Password", exact=True).fill(OWNER["password"])
    page.get_by_label("Repeat the password").fill(OWNER["password"])
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Workflows").wait_for()
    page.get_by_text("No workflows yet").wait_for()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    page.get_by_label("Email").fill(OWNER["email"])
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="wrong email or password").wait_for()
    page.get_by_label("Password").fill(OWNER["password"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Workflows").wait_for()
    page.reload()  # the session cookie keeps the owner signed in
    page.get_by_role("heading", name="Workflows").wait_for()


def test_build_save_and_run_a_workflow(page) -> None:
    page.get_by_role("button", name="New workflow").click()
    page.get_by_test_id("node-start").wait_for()
    page.get_by_label("Workflow name").fill("Greeter")

    # Added with nothing selected: a free node, connected by dragging port to port.
    page.keyboard.press("Escape")
    palette(page, "Set values").click()
    page.get_by_test_id("node-set").wait_for()
    drag_edge(page, "start", "set")
    expect(page.locator(".react-flow__edge")).to_have_count(1)

    drag_edge(page, "start", "set")
    page.get_by_role("alert").filter(has_text="these ports are already connected").wait_for()

    # Parameters come from the node type's schema; templates are highlighted.
    page.get_by_test_id("node-set").click()
    values = page.get_by_test_id("kv-values")
    values.get_by_role("button", name="+ Add a value").click()
    values.get_by_role("textbox", name="Values: name 1").fill("greeting")
    values.get_by_role("textbox", name="Values: value 1").fill("Hello, {{ trigger.name }}!")
    page.locator(".template-highlight mark", has_text="{{ trigger.name }}").wait_for()

    # Added with a node selected: placed after it and connected to it.
    palette(page, "Workflow output").click()
    page.get_by_test_id("node-output").wait_for()
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    # A second edge into an input that takes one value is refused, with the reason.
    drag_edge(page, "start", "output")
    page.get_by_role("alert").filter(has_text="takes one value and is already connected").wait_for()
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    page.get_by_role("textbox", name="Value").fill("{{ input.greeting }}")
    page.get_by_test_id("valid").wait_for()
    screenshot(page, "editor")

    page.get_by_test_id("unsaved").wait_for()
    page.keyboard.press(f"{MOD}+s")
    page.get_by_test_id("saved").wait_for()

    page.keyboard.press(f"{MOD}+Enter")
    page.get_by_label("Run input").fill('{"name": "Ada"}')
    page.get_by_role("button", name=re.compile("^Run")).last.click()
    for node in ("start", "set", "output"):
        page.locator(f'[data-testid="node-{node}"][data-status="succeeded"]').wait_for()
    page.locator('[data-testid="runbar"][data-status="succeeded"]').wait_for()

    page.get_by_test_id("node-set").click()
    page.get_by_role("tab", name="Output").click()
    page.get_by_test_id("node-output").get_by_text('"Hello, Ada!"').wait_for()
    screenshot(page, "inspector")


def test_undo_and_redo(page) -> None:
    page.get_by_role("button", name="New workflow").click()
    page.get_by_test_id("node-start").click()
    palette(page, "No operation").click()
    page.get_by_test_id("node-noop").wait_for()
    edges = page.locator(".react-flow__edge")
    expect(edges).to_have_count(1)

    page.get_by_test_id("node-noop").click()
    page.keyboard.press("Delete")
    page.get_by_test_id("node-noop").wait_for(state="detached")
    expect(edges).to_have_count(0)
    page.keyboard.press(f"{MOD}+z")
    page.get_by_test_id("node-noop").wait_for()
    expect(edges).to_have_count(1)
    page.keyboard.press(f"{MOD}+Shift+z")
    page.get_by_test_id("node-noop").wait_for(state="detached")
    page.keyboard.press(f"{MOD}+z")
    page.keyboard.press(f"{MOD}+z")  # and the node's addition too
    page.get_by_test_id("node-noop").wait_for(state="detached")
    page.get_by_test_id("saved").wait_for()  # back where the save was

    page.keyboard.press("?")
    page.get_by_role("dialog", name="Keyboard shortcuts").wait_for()
    screenshot(page, "shortcuts")
    page.keyboard.press("Escape")


def test_a_failing_node_is_marked_with_its_error(page) -> None:
    document = {
        "schema": 1,
        "name": "Fails",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "boom", "type": "core.fail", "params": {"message": "no {{ trigger.what }}"}},
            {"id": "other", "type": "core.delay", "params": {"seconds": 5}},
        ],
        "edges": [{"from": "start", "to": "boom"}, {"from": "start", "to": "other"}],
    }
    import_text(page, json.dumps(document))
    page.get_by_test_id("node-boom").wait_for()
    page.get_by_role("button", name="▶ Run").click()
    page.get_by_label("Run input").fill('{"what": "luck"}')
    page.get_by_role("button", name=re.compile("^Run")).last.click()
    page.locator('[data-testid="node-boom"][data-status="failed"]').wait_for()
    page.get_by_test_id("node-boom").get_by_text("no luck").wait_for()
    page.locator('[data-testid="node-start"][data-status="succeeded"]').wait_for()
    page.locator('[data-testid="node-other"][data-status="cancelled"]').wait_for()  # on_error: stop
    page.locator('[data-testid="runbar"][data-status="failed"]').wait_for()
    page.get_by_test_id("node-boom").click()
    page.get_by_test_id("node-error").get_by_text("no luck").wait_for()
    screenshot(page, "failed-run")


def test_stop_says_why_the_server_refused(page) -> None:
    """The execution ends before Stop reaches the server, whose answer (409: it has already
    succeeded) the editor shows. Its end is held back on the way to the page, so that the
    page still follows it as running."""
    workflow_id = create_workflow(
        page,
        {
            "schema": 1,
            "name": "Quick",
            "nodes": [{"id": "start", "type": "trigger.manual"}, {"id": "set", "type": "core.set"}],
            "edges": [{"from": "start", "to": "set"}],
        },
    )
    open_workflow(page, workflow_id)
    held: list[object] = []
    page.route(re.compile(r"/api/v1/executions/[^/]+/stream"), lambda route: held.append(route))
    page.get_by_role("button", name="▶ Run").click()
    page.get_by_role("button", name=re.compile("^Run")).last.click()
    stop = page.get_by_role("button", name="Stop", exact=True)
    stop.wait_for()
    execution_id = page.get_by_test_id("runbar").get_attribute("data-execution")
    assert execution_id
    deadline = time.monotonic() + 10
    while page.context.request.get(f"/api/v1/executions/{execution_id}").json()["status"] != (
        "succeeded"
    ):
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)
    assert held, "the page asked for the event stream"

    stop.click()
    refusal = page.get_by_role("alert").filter(has_text="Not stopped")
    expect(refusal).to_have_text("Not stopped: the execution has already succeeded")
    expect(stop).to_be_enabled()  # still following the execution: its stream says the rest


def test_template_fields_suggest_the_upstream_nodes(page) -> None:
    document = {
        "schema": 1,
        "name": "Suggestions",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "fetch", "type": "core.noop"},
            {"id": "set", "type": "core.set"},
            {"id": "after", "type": "core.noop"},
        ],
        "edges": [
            {"from": "start", "to": "fetch"},
            {"from": "fetch", "to": "set"},
            {"from": "set", "to": "after"},
        ],
    }
    import_text(page, json.dumps(document))
    page.get_by_test_id("node-set").click()
    form = page.get_by_test_id("kv-values")
    form.get_by_role("button", name="+ Add a value").click()
    form.get_by_role("textbox", name="Values: name 1").fill("a")
    values = form.get_by_role("textbox", name="Values: value 1")
    values.press_sequentially("{{ nodes.")
    suggestions = page.get_by_role("listbox", name="Suggestions")
    options = suggestions.get_by_role("option")
    expect(options).to_have_text([re.compile("^fetch"), re.compile("^start")])  # upstream only
    suggestions.get_by_role("option", name="fetch").click()
    expect(values).to_have_value("{{ nodes.fetch")
    expect(suggestions).to_have_count(0)

    # One level further, from the keyboard; Escape closes the list and keeps the panel.
    values.press(".")
    expect(suggestions.get_by_role("option")).to_have_text([re.compile("^output")])
    values.press("Escape")
    expect(suggestions).to_have_count(0)
    values.press("Backspace")
    values.press(".")
    values.press("Enter")
    expect(values).to_have_value("{{ nodes.fetch.output")
    values.press_sequentially(" }}")
    expect(values).to_have_value("{{ nodes.fetch.output }}")
    page.get_by_test_id("valid").wait_for()


def test_export_then_import_round_trip(page) -> None:
    row = page.get_by_test_id("workflow-row").filter(has_text="Greeter")
    with page.expect_download() as download:
        row.get_by_role("link", name="Export JSON").click()
    exported = json.loads(download.value.path().read_text())
    assert exported["name"] == "Greeter"

    page.get_by_role("button", name="Import…").click()
    page.get_by_label("Workflow file").set_input_files(download.value.path())
    page.get_by_role("dialog").get_by_role("button", name="Import").click()
    page.get_by_test_id("node-output").wait_for()
    page.get_by_role("button", name="← Workflows").click()
    page.get_by_test_id("workflow-row").filter(has_text="Greeter").nth(1).wait_for()

    page.get_by_placeholder("Search by name").fill("greet")
    page.get_by_test_id("workflow-row").first.wait_for()
    screenshot(page, "workflows")
    copy_id = page.get_by_test_id("workflow-row").first.get_by_role("link").first
    stored = page.context.request.get(
        "/api/v1/workflows/" + copy_id.get_attribute("href").rsplit("/", 1)[1]
    ).json()
    assert stored["document"]["nodes"] == exported["nodes"]
    assert stored["document"]["edges"] == exported["edges"]
