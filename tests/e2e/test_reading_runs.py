"""Reading a run in the editor: the workflow's output or error in the run bar, one click
from the node that failed; a node's input and output side by side; nodes after a failure
read "not run (upstream failed)"; the Executions page and each workflow's last run; the
editor's runs labelled as the editor's."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.e2e.helpers import (  # noqa: E402
    create_workflow,
    open_workflow,
    run_over_api,
    same_origin,
)

MOD = "Control"


def greeter(name: str) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": name,
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "people",
                "type": "core.set",
                "params": {
                    "values": {
                        "greeting": "Hello, {{ trigger.name }}!",
                        "people": [{"name": "Ada", "born": 1815}, {"name": "Grace", "born": 1906}],
                    }
                },
            },
            {"id": "out", "type": "core.output", "params": {"value": "{{ input.greeting }}"}},
        ],
        "edges": [{"from": "start", "to": "people"}, {"from": "people", "to": "out"}],
    }


def failing(name: str) -> dict[str, Any]:
    """``boom`` fails under ``stop``; ``after`` depends on it, ``slow`` runs beside it."""
    return {
        "schema": 1,
        "name": name,
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "boom", "type": "core.set", "params": {"values": {"x": "{{ vars.luck }}"}}},
            {"id": "after", "type": "core.noop"},
            {"id": "slow", "type": "core.delay", "params": {"seconds": 5}},
        ],
        "edges": [
            {"from": "start", "to": "boom"},
            {"from": "boom", "to": "after"},
            {"from": "start", "to": "slow"},
        ],
        "ui": {
            "positions": {"start": [0, 0], "boom": [260, 0], "after": [520, 0], "slow": [260, 160]}
        },
    }


def run_in_editor(page: Page, input: str = "{}") -> None:
    page.get_by_role("button", name="▶ Run").click()
    page.get_by_label("Run input").fill(input)
    page.get_by_role("dialog").get_by_role("button", name=re.compile("^Run")).click()


def test_the_run_bar_shows_the_output_of_a_run(page) -> None:
    open_workflow(page, create_workflow(page, greeter("Output in the bar")))
    run_in_editor(page, '{"name": "Ada"}')
    page.locator('[data-testid="runbar"][data-status="succeeded"]').wait_for()

    output = page.get_by_test_id("runbar-output")
    expect(output).to_contain_text("Hello, Ada!")
    output.click()
    expect(page.get_by_test_id("runbar-output-value")).to_contain_text('"Hello, Ada!"')
    screenshot(page, "runbar-output")
    output.click()
    expect(page.get_by_test_id("runbar-output-value")).to_have_count(0)


def test_a_failed_run_shows_its_error_one_click_from_the_node_and_what_did_not_run(page) -> None:
    open_workflow(page, create_workflow(page, failing("Fails in the bar")))
    run_in_editor(page, '{"what": "luck"}')
    runbar = page.locator('[data-testid="runbar"][data-status="failed"]')
    runbar.wait_for()

    # Nobody cancelled anything: the nodes say why they did not run.
    after = page.get_by_test_id("status-after")
    expect(after).to_have_text(re.compile("not run \\(upstream failed\\)"))
    expect(after).to_have_attribute("data-reason", "upstream_failed")
    expect(page.get_by_test_id("status-slow")).to_contain_text("stopped (another node failed)")
    expect(page.get_by_test_id("node-after")).to_have_attribute("data-status", "cancelled")
    expect(runbar).to_contain_text("1 not run (upstream failed)")
    expect(runbar).not_to_contain_text("cancelled")

    error = page.get_by_test_id("runbar-error")
    expect(error).to_contain_text("node 'boom' failed")
    expect(page.get_by_role("complementary", name="Node settings")).to_have_count(0)
    error.click()
    panel = page.get_by_role("complementary", name="Node settings")
    expect(panel).to_contain_text("core.set")
    expect(panel.get_by_role("tab", name="Input / Output")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(panel.get_by_test_id("node-error")).to_contain_text("vars.luck")
    expect(page.get_by_test_id("node-boom")).to_have_class(re.compile("selected"))
    screenshot(page, "runbar-failed")

    page.get_by_test_id("node-after").click()
    expect(page.get_by_test_id("node-run-status")).to_have_text("not run (upstream failed)")
    expect(page.get_by_test_id("not-run-reason")).to_contain_text("a node before it failed")


def test_a_node_shows_its_input_and_output_side_by_side_as_json_or_a_table(page) -> None:
    workflow_id = create_workflow(page, greeter("Input and output"))
    execution = run_over_api(page, workflow_id, {"input": {"name": "Ada"}})
    # Opened by its link, as the Executions page opens it.
    page.goto(f"/workflows/{workflow_id}?execution={execution['execution_id']}")
    page.locator(f'[data-testid="runbar"][data-execution="{execution["execution_id"]}"]').wait_for()
    expect(page).to_have_url(re.compile(f"/workflows/{workflow_id}$"))

    page.get_by_test_id("node-people").click()
    panel = page.get_by_role("complementary", name="Node settings")
    expect(panel.get_by_role("tab", name="Input / Output")).to_have_attribute(
        "aria-selected", "true"
    )
    given = page.get_by_test_id("node-io-input")
    made = page.get_by_test_id("node-io-output")
    expect(given).to_contain_text("from start")
    expect(given).to_contain_text('"Ada"')
    expect(made).to_contain_text('"Hello, Ada!"')
    in_box, out_box = given.bounding_box(), made.bounding_box()
    assert in_box
    assert out_box
    assert in_box["x"] + in_box["width"] <= out_box["x"], "input and output side by side"

    panel.get_by_role("button", name="Table", exact=True).click()
    table = made.get_by_test_id("io-table")
    expect(table.locator("th")).to_have_text(["greeting", "people"])
    expect(table.locator("td").first).to_have_text("Hello, Ada!")
    expect(given.get_by_test_id("io-table").locator("th")).to_have_text(["name"])
    screenshot(page, "node-input-output")
    panel.get_by_role("button", name="JSON", exact=True).click()
    expect(made.get_by_test_id("io-table")).to_have_count(0)

    # A trigger's input is the execution's input.
    page.get_by_test_id("node-start").click()
    expect(page.get_by_test_id("node-io-input")).to_contain_text("trigger payload")
    expect(page.get_by_test_id("node-io-input")).to_contain_text('"Ada"')


def test_an_invalid_node_opens_on_its_problem(page) -> None:
    workflow_id = create_workflow(
        page,
        {
            "schema": 1,
            "name": "Opens on the problem",
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "fetch",
                    "type": "core.http_request",
                    "params": {"url": "http://127.0.0.1:9/"},
                },
            ],
            "edges": [{"from": "start", "to": "fetch"}],
        },
    )
    run_over_api(page, workflow_id, {})
    open_workflow(page, workflow_id)
    page.keyboard.press("h")
    page.get_by_test_id("execution-row").first.click()
    page.locator('[data-testid="runbar"][data-status="failed"]').wait_for()

    page.get_by_test_id("node-fetch").click()
    panel = page.get_by_role("complementary", name="Node settings")
    expect(panel.get_by_role("tab", name="Input / Output")).to_have_attribute(
        "aria-selected", "true"
    )
    panel.get_by_role("tab", name="Parameters").click()
    panel.get_by_role("textbox", name=re.compile(r"^url$", re.IGNORECASE)).fill("{{ trigger.url ")
    expect(panel.get_by_role("tab", name="Parameters").locator(".badge.error")).to_be_visible()
    panel.get_by_role("button", name="Close panel").click()

    page.get_by_test_id("node-fetch").click()
    panel = page.get_by_role("complementary", name="Node settings")
    expect(panel.get_by_role("tab", name="Parameters")).to_have_attribute("aria-selected", "true")


def test_the_executions_page_filters_and_follows_runs_and_opens_one(page) -> None:
    greeting = create_workflow(page, greeter("Listed greeter"))
    fails = create_workflow(page, failing("Listed failure"))
    by_editor = run_over_api(page, greeting, {"input": {"name": "Ada"}, "mode": "editor"})
    run_over_api(page, fails, {"input": {"what": "luck"}})
    slow = create_workflow(
        page,
        {
            "schema": 1,
            "name": "Listed slow",
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "wait", "type": "core.delay", "params": {"seconds": 3}},
            ],
            "edges": [{"from": "start", "to": "wait"}],
        },
    )
    started = page.context.request.post(
        f"/api/v1/workflows/{slow}/run", data={}, headers=same_origin(page)
    )
    assert started.ok, started.text()

    page.locator("header.topbar").get_by_role("link", name="Executions").click()
    page.get_by_role("heading", name="Executions").wait_for()
    rows = page.get_by_test_id("execution-row")
    expect(rows.filter(has_text="Listed greeter")).to_contain_text("Editor")
    expect(rows.filter(has_text="Listed failure")).to_contain_text("node 'boom' failed")
    # Followed while it runs: read again until it has ended.
    running = rows.filter(has_text="Listed slow")
    expect(running).to_have_attribute("data-status", "running")
    screenshot(page, "executions-page")
    expect(running).to_have_attribute("data-status", "succeeded", timeout=8_000)

    page.get_by_label("Workflow", exact=True).select_option(label="Listed greeter")
    expect(rows).to_have_count(1)
    page.get_by_label("Started by").select_option("api")
    expect(rows).to_have_count(0)
    page.get_by_text("No executions match").wait_for()
    page.get_by_label("Started by").select_option("editor")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(rf"/executions\?workflow={greeting}&mode=editor$"))
    page.get_by_label("Started", exact=True).select_option("hour")
    expect(rows).to_have_count(1)

    page.get_by_label("Workflow", exact=True).select_option("")
    page.get_by_label("Started by").select_option("")
    page.get_by_label("Status").select_option("failed")
    expect(rows.filter(has_text="Listed failure")).to_have_count(1)
    expect(rows.filter(has_text="Listed greeter")).to_have_count(0)
    page.get_by_label("Status").select_option("")

    rows.filter(has_text="Listed greeter").get_by_role("link", name="Listed greeter").click()
    runbar = page.locator(f'[data-testid="runbar"][data-execution="{by_editor["execution_id"]}"]')
    expect(runbar).to_have_attribute("data-status", "succeeded")


def test_the_workflow_list_shows_each_workflows_last_run(page) -> None:
    ran = create_workflow(page, failing("Last run failed"))
    create_workflow(page, greeter("Never run"))
    execution = run_over_api(page, ran, {"input": {"what": "luck"}})
    page.reload()

    rows = page.get_by_test_id("workflow-row")
    last = rows.filter(has_text="Last run failed").get_by_test_id("last-run")
    expect(last).to_have_attribute("data-status", "failed")
    expect(last).to_contain_text("Failed")
    expect(rows.filter(has_text="Never run")).to_contain_text("never run")
    screenshot(page, "workflows-last-run")

    last.get_by_role("link", name=re.compile("Failed")).click()
    runbar = page.locator(f'[data-testid="runbar"][data-execution="{execution["execution_id"]}"]')
    expect(runbar).to_have_attribute("data-status", "failed")


def test_runs_started_in_the_editor_are_labelled_as_the_editors(page) -> None:
    workflow_id = create_workflow(page, greeter("Labelled"))
    run_over_api(page, workflow_id, {"input": {"name": "Bob"}})
    open_workflow(page, workflow_id)
    run_in_editor(page, '{"name": "Ada"}')
    page.locator('[data-testid="runbar"][data-status="succeeded"]').wait_for()

    page.keyboard.press("h")
    modes = page.get_by_test_id("execution-mode")
    expect(modes).to_have_text(["Editor", "API"])  # newest first
    executions = page.context.request.get(
        "/api/v1/executions", params={"workflow_id": workflow_id}
    ).json()
    assert [item["mode"] for item in executions["items"]] == ["editor", "api"]


def test_an_execution_opened_from_its_link_leaves_the_editor_guarded_only_when_left(
    page,
) -> None:
    """The link carries the execution (``?execution=``): a move of the browser's history
    that stays on the workflow does not ask to leave it; one that leaves it does."""
    workflow_id = create_workflow(page, greeter("Linked greeter"))
    run_over_api(page, workflow_id, {"input": {"name": "Ada"}})
    page.locator("header.topbar").get_by_role("link", name="Executions").click()
    rows = page.get_by_test_id("execution-row")
    rows.filter(has_text="Linked greeter").get_by_role("link", name="Linked greeter").click()
    page.get_by_test_id("runbar").wait_for()
    # A change made offline is the one leaving would lose (the live draft keeps the rest).
    page.context.set_offline(True)
    page.get_by_test_id("offline").wait_for()
    page.get_by_label("Workflow name").fill("Linked greeter, edited")
    page.get_by_test_id("unsaved").wait_for()
    dialog = page.get_by_role("dialog", name="Leave before your changes sync?")

    page.evaluate("history.pushState(null, '', location.pathname + '#here')")
    page.go_back()
    page.wait_for_timeout(300)  # a question would show at once
    expect(dialog).to_have_count(0)
    assert page.url.endswith(f"/workflows/{workflow_id}")

    page.go_back()
    dialog.wait_for()
    dialog.get_by_role("button", name="Leave and lose them").click()
    page.get_by_role("heading", name="Executions").wait_for()
    page.context.set_offline(False)
