"""Waits inside sub-workflows and cancelling waiting executions, in the editor: the inbox
lists the child execution's approval to decide (the server picks what is the member's),
and shows the parent waiting for it among what waits for others; decided there, the
parent goes on. A waiting execution is cancelled from the inbox, or from the canvas, and
its links answer 410 afterwards."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import require_browser

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.e2e.helpers import (  # noqa: E402
    create_workflow,
    open_workflow,
    run_over_api,
    same_origin,
)
from tests.e2e.waits import approval, execution, inbox_item, until_ended, waiting  # noqa: E402


def calling(child_id: str) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": "Parent of an approval",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "call", "type": "core.subworkflow", "params": {"workflow": child_id}},
            {"id": "out", "type": "core.output"},
        ],
        "edges": [{"from": "start", "to": "call"}, {"from": "call", "to": "out"}],
    }


def test_a_sub_workflows_approval_is_decided_in_the_inbox_and_the_parent_goes_on(
    page: Page,
) -> None:
    child_id = create_workflow(page, approval("Hire a plumber"))
    parent_id = create_workflow(page, calling(child_id))
    parent = run_over_api(page, parent_id, {})
    assert parent["status"] == "waiting", parent
    listed = page.context.request.get("/api/v1/executions?status=waiting").json()
    (child,) = [i for i in listed["items"] if i["parent_execution_id"] == parent["execution_id"]]

    page.goto("/inbox")
    item = inbox_item(page, child["execution_id"])
    expect(item).to_contain_text("Hire a plumber?")
    mine = page.get_by_role("list", name="Waiting for you")
    expect(mine.locator(item)).to_have_count(1)
    waiting_parent = inbox_item(page, parent["execution_id"])
    expect(mine.locator(waiting_parent)).to_have_count(0)  # nobody decides it by hand
    page.get_by_text("Waiting for others").click()
    others = page.get_by_role("list", name="Waiting for others")
    expect(others.locator(waiting_parent)).to_have_count(1)
    expect(waiting_parent).to_contain_text("Waits for a sub-workflow execution to end")
    expect(waiting_parent.get_by_test_id("wait-children")).to_contain_text(
        child["execution_id"][:8]
    )

    # The sub-workflow's wait opens on the sub-workflow's canvas.
    link = item.get_by_role("link", name="Open in the editor")
    expect(link).to_have_attribute(
        "href", f"/workflows/{child_id}?execution={child['execution_id']}&node=ask"
    )

    item.get_by_role("button", name="Decide…").click()
    item.get_by_label("Amount (EUR)").fill("90")
    item.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("inbox-outcome")).to_contain_text("Approved")
    ended = until_ended(page, parent["execution_id"])
    assert ended["status"] == "succeeded", ended
    assert ended["output"]["data"]["amount"] == 90


def test_a_waiting_execution_is_cancelled_from_the_inbox(page: Page) -> None:
    _, execution_id = waiting(page, "Book a venue")
    page.goto("/inbox")
    item = inbox_item(page, execution_id)
    item.get_by_role("button", name="Cancel execution…").click()
    item.get_by_role("button", name="Keep it").click()  # asked twice: kept
    assert execution(page, execution_id)["status"] == "waiting"
    item.get_by_role("button", name="Cancel execution…").click()
    item.get_by_test_id("confirm-cancel").click()
    expect(page.get_by_test_id("inbox-outcome")).to_contain_text("cancelled")
    expect(item).to_have_count(0)
    assert until_ended(page, execution_id)["status"] == "cancelled"
    late = page.context.request.post(
        f"/api/v1/executions/{execution_id}/waits/ask",
        data={"decision": "approve"},
        headers=same_origin(page),
    )
    assert late.status == 409


def test_a_waiting_execution_is_cancelled_from_the_canvas(page: Page) -> None:
    workflow_id, execution_id = waiting(page, "Order pizza")
    open_workflow(page, workflow_id)
    page.get_by_role("button", name="History").click()
    page.locator('[data-testid="execution-row"][data-status="waiting"]').click()
    expect(page.get_by_test_id("runbar")).to_have_attribute("data-status", "waiting")
    page.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.get_by_test_id("runbar")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_test_id("node-ask")).to_have_attribute("data-status", "cancelled")
    assert until_ended(page, execution_id)["status"] == "cancelled"
