"""The editor's history end to end: versions and restore, past executions replayed on the
canvas, pinned outputs, and a run from a node that reuses an earlier execution."""

from __future__ import annotations

import re

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import (  # noqa: E402
    create_workflow,
    open_workflow,
    run_over_api,
    stored_document,
)

MOD = "Control"


def greeter(name: str, delay_s: float = 0) -> dict[str, object]:
    """start -> pause -> greet -> out: greets ``trigger.name`` after ``delay_s``."""
    return {
        "schema": 1,
        "name": name,
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "pause", "type": "core.delay", "params": {"seconds": delay_s}},
            {
                "id": "greet",
                "type": "core.set",
                "params": {"values": {"text": "Hello, {{ trigger.name }}!"}},
            },
            {"id": "out", "type": "core.output", "params": {"value": "{{ input.text }}"}},
        ],
        "edges": [
            {"from": "start", "to": "pause"},
            {"from": "pause", "to": "greet"},
            {"from": "greet", "to": "out"},
        ],
        "ui": {
            "positions": {"start": [0, 0], "pause": [280, 0], "greet": [560, 0], "out": [840, 0]}
        },
    }


def test_a_saved_version_is_restored_as_a_new_version(page) -> None:
    workflow_id = create_workflow(page, greeter("Versions"))
    open_workflow(page, workflow_id)
    page.get_by_label("Workflow name").fill("Versions, renamed")
    page.keyboard.press(f"{MOD}+s")
    expect(page.get_by_test_id("version")).to_have_text("v2")

    page.get_by_role("button", name="History").click()
    page.get_by_role("tab", name="Versions").click()
    rows = page.get_by_test_id("version-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("current")
    expect(rows.nth(1)).to_contain_text("Versions")
    screenshot(page, "versions")
    rows.nth(1).get_by_role("button", name="Restore").click()
    confirm = page.get_by_role("dialog", name="Restore version 1?")
    confirm.get_by_role("button", name="Restore").click()

    expect(page.get_by_test_id("version")).to_have_text("v3")
    expect(page.get_by_label("Workflow name")).to_have_value("Versions")
    page.get_by_test_id("saved").wait_for()
    expect(rows).to_have_count(3)
    assert stored_document(page, workflow_id)["name"] == "Versions"


def test_a_past_execution_is_replayed_with_its_outputs_and_an_output_is_pinned(page) -> None:
    workflow_id = create_workflow(page, greeter("Replay"))
    older = run_over_api(page, workflow_id, {"input": {"name": "Ada"}})
    run_over_api(page, workflow_id, {"input": {"name": "Bob"}})
    open_workflow(page, workflow_id)
    expect(page.get_by_test_id("runbar")).to_have_count(0)

    page.keyboard.press("h")
    executions = page.get_by_test_id("execution-row")
    expect(executions).to_have_count(2)
    executions.nth(1).click()  # newest first: the older one is second
    runbar = page.locator(f'[data-testid="runbar"][data-execution="{older["execution_id"]}"]')
    expect(runbar).to_have_attribute("data-status", "succeeded")
    for node in ("start", "pause", "greet", "out"):
        page.locator(f'[data-testid="node-{node}"][data-status="succeeded"]').wait_for()
    expect(page.get_by_test_id("status-greet")).to_contain_text(re.compile(r"\d ms|<1 ms"))
    expect(executions.nth(1)).to_have_class(re.compile("active"))
    screenshot(page, "executions")

    page.get_by_test_id("node-greet").click()
    output = page.get_by_test_id("node-output")
    output.get_by_text('"Hello, Ada!"').wait_for()

    # Pin that output: the node no longer runs, the pinned value flows on.
    output.get_by_role("button", name="Pin output").click()
    page.get_by_test_id("pinned-greet").wait_for()
    page.get_by_test_id("pinned-output").wait_for()
    page.keyboard.press(f"{MOD}+s")
    page.get_by_test_id("saved").wait_for()
    pin = stored_document(page, workflow_id)["nodes"][2]["pin"]
    assert pin == {"output": {"text": "Hello, Ada!"}}
    screenshot(page, "pinned")

    page.keyboard.press(f"{MOD}+Enter")
    page.get_by_label("Run input").fill('{"name": "Eve"}')
    page.get_by_role("button", name=re.compile("^Run")).last.click()
    page.locator('[data-testid="runbar"][data-status="succeeded"]').wait_for()
    expect(page.get_by_test_id("status-greet")).to_contain_text("pinned")
    page.get_by_test_id("node-out").click()
    page.get_by_test_id("node-output").get_by_text('"Hello, Ada!"').first.wait_for()

    page.get_by_test_id("node-greet").click()
    page.get_by_test_id("pinned-output").get_by_role("button", name="Unpin").click()
    page.get_by_test_id("pinned-greet").wait_for(state="detached")
    page.keyboard.press(f"{MOD}+s")
    page.get_by_test_id("saved").wait_for()
    assert "pin" not in stored_document(page, workflow_id)["nodes"][2]


def test_a_run_from_a_node_reuses_the_results_before_it(page) -> None:
    workflow_id = create_workflow(page, greeter("Run from here", delay_s=0.5))
    first = run_over_api(page, workflow_id, {"input": {"name": "Ada"}})
    open_workflow(page, workflow_id)

    # Change the greeting, then run it again from that node alone.
    page.get_by_test_id("node-greet").click()
    page.get_by_role("tab", name="Parameters").click()
    page.get_by_role("textbox", name="Values: value 1").fill("Goodbye, {{ trigger.name }}!")
    page.get_by_role("button", name="Run from here").click()
    page.get_by_test_id("saved").wait_for()  # saved first: runs take the stored version
    runbar = page.locator('[data-testid="runbar"][data-status="succeeded"]')
    runbar.wait_for()
    execution_id = runbar.get_attribute("data-execution")
    assert execution_id
    assert execution_id != first["execution_id"]
    for node in ("start", "pause"):
        expect(page.get_by_test_id(f"status-{node}")).to_contain_text("reused")
    expect(page.get_by_test_id("status-greet")).not_to_contain_text("reused")
    page.get_by_test_id("node-out").click()
    page.get_by_test_id("node-io-output").get_by_text('"Goodbye, Ada!"').wait_for()

    execution = page.context.request.get(f"/api/v1/executions/{execution_id}").json()
    assert execution["nodes"]["pause"]["reused"] is True
    assert execution["output"] == "Goodbye, Ada!"
