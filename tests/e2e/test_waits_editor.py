"""Waits in the editor: a run that waits for an approval is listed as waiting and in the
inbox (with its count in the navigation); opened on its canvas, the waiting node shows what
it waits for, its form checks the answer before it is sent, and approving there resumes the
run, which the canvas follows to its end. Rejected from the inbox, it goes on down
``rejected``; decided by someone else meanwhile, the form says so."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.e2e.helpers import (  # noqa: E402
    create_workflow,
    join,
    open_workflow,
    other_browser,
    run_over_api,
    same_origin,
)
from tests.e2e.waits import approval, execution, inbox_item, until_ended, waiting  # noqa: E402


def test_a_waiting_run_is_listed_opened_and_approved_in_the_editor(page: Page) -> None:
    workflow_id, execution_id = waiting(page, "Buy laptops")

    # Listed as waiting, with what it waits for.
    page.goto("/executions?status=waiting")
    row = page.locator('[data-testid="execution-row"][data-status="waiting"]').filter(
        has_text=execution_id[:8]
    )
    expect(row.get_by_test_id("execution-status")).to_have_text("Waiting")
    expect(row.get_by_test_id("execution-waits")).to_contain_text("an approval: Buy laptops?")

    # The inbox: reached from the navigation, which counts what waits.
    expect(page.get_by_test_id("inbox-count")).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", name="Waiting for you")).to_be_visible()
    item = inbox_item(page, execution_id)
    expect(item).to_contain_text("Buy laptops?")
    expect(item.get_by_test_id("wait-who")).to_contain_text("anyone holding its link")
    screenshot(page, "waits-inbox")
    item.get_by_role("link", name="Open in the editor").click()

    # The canvas shows the execution, the waiting node's panel open.
    page.locator('.canvas[data-ready="true"]').wait_for()
    expect(page.get_by_test_id("runbar")).to_have_attribute("data-status", "waiting")
    expect(page.get_by_test_id("runbar-waits")).to_contain_text("approval “Buy laptops?” · yours")
    node = page.get_by_test_id("node-ask")
    expect(node).to_have_attribute("data-status", "waiting")
    expect(page.get_by_test_id("wait-ask")).to_contain_text("yours to decide")
    section = page.get_by_test_id("run-wait")
    expect(section).to_contain_text("Three laptops for the new team.")
    expect(section).to_contain_text("Times out")
    expect(section).to_contain_text("Amount (EUR) *")
    assert page.url.endswith(f"/workflows/{workflow_id}")

    # Checked before it is sent: the amount is required, and at least 1.
    form = section.get_by_role("form")
    form.get_by_role("button", name="Approve").click()
    expect(form.locator('[data-field="amount"] .field-error')).to_have_text("is required")
    form.get_by_label("Amount (EUR)").fill("0")
    form.get_by_role("button", name="Approve").click()
    expect(form.locator('[data-field="amount"] .field-error')).to_have_text("must be at least 1")
    assert execution(page, execution_id)["status"] == "waiting"

    form.get_by_label("Amount (EUR)").fill("1800")
    form.get_by_label("Budget").select_option("IT")
    form.get_by_label("Urgent").check()
    form.get_by_label("Reason").fill("new hires")
    form.get_by_label("Comment").fill("within budget")
    screenshot(page, "waits-run-view-form")
    form.get_by_role("button", name="Approve").click()
    expect(section.get_by_test_id("decision-done")).to_contain_text("Approved")

    # The run goes on, followed live on the canvas.
    expect(page.get_by_test_id("runbar")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("node-yes")).to_have_attribute("data-status", "succeeded")
    expect(node).to_have_attribute("data-status", "succeeded")
    screenshot(page, "waits-run-view-approved")
    finished = execution(page, execution_id)
    assert finished["status"] == "succeeded"
    assert finished["output"]["data"] == {
        "amount": 1800,
        "budget": "IT",
        "urgent": True,
        "reason": "new hires",
    }
    assert finished["output"]["comment"] == "within budget"
    assert finished["output"]["by"]["email"] == "owner@example.com"


def test_rejected_from_the_inbox_the_run_goes_on_down_rejected(page: Page) -> None:
    _, execution_id = waiting(page, "Rent a boat")
    page.goto("/inbox")
    item = inbox_item(page, execution_id)
    item.get_by_role("button", name="Decide…").click()
    item.get_by_label("Comment").fill("not this quarter")
    item.get_by_role("button", name="Reject").click()  # the amount left empty: no matter
    expect(page.get_by_test_id("inbox-outcome")).to_contain_text("Rejected")
    expect(item).to_have_count(0)  # no longer waiting for anyone
    rejected = until_ended(page, execution_id)
    assert rejected["status"] == "succeeded", rejected
    assert rejected["nodes"]["ask"]["outputs"]["rejected"]["comment"] == "not this quarter"
    assert rejected["nodes"]["yes"]["status"] == "skipped"


def test_decided_by_someone_else_meanwhile_the_form_says_so(page: Page) -> None:
    _, execution_id = waiting(page, "Paint the office")
    page.goto("/inbox")
    item = inbox_item(page, execution_id)
    item.get_by_role("button", name="Decide…").click()
    item.get_by_label("Amount (EUR)").fill("300")
    # Decided elsewhere (the API, the link's page) while the form is open.
    decided = page.context.request.post(
        f"/api/v1/executions/{execution_id}/waits/ask",
        data={"decision": "reject", "comment": "no"},
        headers=same_origin(page),
    )
    assert decided.ok, decided.text()
    item.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("inbox-outcome")).to_contain_text(
        "Already decided by someone else, or no longer open"
    )
    expect(item).to_have_count(0)


def test_the_canvas_shows_a_run_go_on_once_it_is_decided_elsewhere(page: Page) -> None:
    """Opened from the history, a waiting execution is followed: decided elsewhere (the
    API, a link's page, another member), the canvas shows it go on to its end."""
    workflow_id, execution_id = waiting(page, "Order chairs")
    open_workflow(page, workflow_id)
    page.get_by_role("button", name="History").click()
    row = page.locator('[data-testid="execution-row"][data-status="waiting"]')
    expect(row.get_by_test_id("execution-status")).to_have_text("Waiting")
    expect(row.get_by_test_id("execution-waits")).to_contain_text("an approval: Order chairs?")
    row.click()
    expect(page.get_by_test_id("runbar")).to_have_attribute("data-status", "waiting")
    expect(page.get_by_test_id("node-ask")).to_have_attribute("data-status", "waiting")

    decided = page.context.request.post(
        f"/api/v1/executions/{execution_id}/waits/ask",
        data={"decision": "approve", "data": {"amount": 12}},
        headers=same_origin(page),
    )
    assert decided.ok, decided.text()
    expect(page.get_by_test_id("runbar")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("node-yes")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("node-no")).to_have_attribute("data-status", "skipped")
    page.get_by_test_id("node-ask").click()
    expect(page.get_by_test_id("run-wait")).to_contain_text("Waited")
    expect(page.get_by_test_id("run-wait").get_by_role("form")).to_have_count(0)


def test_each_member_sees_what_is_theirs_to_decide(page: Page, browser: Any, base_url: str) -> None:
    """Two approvals by the people named: a viewer named decides from their inbox, an
    editor not named sees it waiting for others; the run goes on at the second approval."""
    doc = approval("Hire a designer")
    doc["nodes"][1]["params"] |= {
        "approvals": 2,
        "approvers": ["vi@example.com", "owner@example.com"],
    }
    workflow_id = create_workflow(page, doc)
    execution_id = run_over_api(page, workflow_id, {})["execution_id"]
    with (
        other_browser(browser, base_url) as viewer,
        other_browser(browser, base_url) as editor,
    ):
        join(page, viewer, "vi@example.com", "viewer")
        join(page, editor, "ed@example.com", "editor")
        editor.goto("/inbox")
        others = editor.get_by_role("list", name="Waiting for others")
        expect(inbox_item(editor, execution_id)).to_have_count(1)
        expect(editor.get_by_role("list", name="Waiting for you")).to_have_count(0)
        editor.get_by_text("Waiting for others").click()
        expect(others.get_by_test_id("wait-who")).to_have_text("vi@example.com; owner@example.com")
        expect(
            inbox_item(editor, execution_id).get_by_role("button", name="Decide…")
        ).to_have_count(0)

        viewer.goto("/inbox")
        expect(viewer.get_by_test_id("inbox-count")).to_have_text("1")
        item = inbox_item(viewer, execution_id)
        expect(item.get_by_test_id("wait-approvals")).to_have_text("0 of 2 approvals")
        item.get_by_role("button", name="Decide…").click()
        item.get_by_label("Amount (EUR)").fill("4000")
        item.get_by_role("button", name="Approve").click()
        expect(viewer.get_by_test_id("inbox-outcome")).to_contain_text("needs another person")
        # Approved by them: no longer theirs to decide, waiting for someone else.
        expect(viewer.get_by_role("list", name="Waiting for you")).to_have_count(0)
        expect(viewer.get_by_text("Waiting for others (1)")).to_be_visible()
        expect(viewer.get_by_test_id("inbox-count")).to_have_count(0)

    page.goto("/inbox")
    item = inbox_item(page, execution_id)
    expect(item.get_by_test_id("wait-approvals")).to_have_text("1 of 2 approvals")
    expect(item).to_contain_text("vi@example.com")
    item.get_by_role("button", name="Decide…").click()
    item.get_by_label("Amount (EUR)").fill("3500")
    item.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("inbox-outcome")).to_contain_text("Approved")
    finished = until_ended(page, execution_id)
    assert finished["status"] == "succeeded", finished
    approvals = finished["output"]["approvals"]
    assert [a["by"]["email"] for a in approvals] == ["vi@example.com", "owner@example.com"]


def test_a_timer_is_fired_now_from_the_run_view(page: Page) -> None:
    doc = {
        "schema": 1,
        "name": "Cool off",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "pause", "type": "core.wait", "params": {"mode": "timer", "duration": "3h"}},
            {"id": "after", "type": "core.output"},
        ],
        "edges": [{"from": "start", "to": "pause"}, {"from": "pause", "to": "after"}],
    }
    workflow_id = create_workflow(page, doc)
    open_workflow(page, workflow_id)
    page.get_by_role("button", name="▶ Run").click()
    page.get_by_role("dialog").get_by_role("button", name="Run").click()
    expect(page.get_by_test_id("runbar")).to_have_attribute("data-status", "waiting")
    expect(page.get_by_test_id("wait-pause")).to_contain_text("timer · fires in 3 h")
    page.get_by_test_id("runbar-waits").get_by_role("button").click()  # opens its panel
    section = page.get_by_test_id("run-wait")
    expect(section).to_contain_text("Fires")
    section.get_by_role("button", name="Fire now").click()
    expect(section.get_by_test_id("decision-done")).to_contain_text("goes on")
    expect(page.get_by_test_id("runbar")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("node-after")).to_have_attribute("data-status", "succeeded")
