"""An approval's link in a browser: the form page, without an account, approves and
rejects; the link is dead once used."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import create_workflow, other_browser, run_over_api  # noqa: E402
from tests.e2e.waits import approval, until_ended  # noqa: E402

FIELDS = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "title": "Amount (EUR)", "minimum": 1},
        "reason": {"type": "string", "title": "Reason", "maxLength": 200},
        "urgent": {"type": "boolean", "title": "Urgent"},
        "budget": {"type": "string", "title": "Budget", "enum": ["IT", "Office"]},
    },
    "required": ["amount"],
}


def form_approval(name: str) -> dict[str, Any]:
    """An approval whose link the node ``mail`` holds, as an email would send it."""
    return approval(
        name,
        link=True,
        title="Buy 3 laptops?",
        description="Requested by <Sam> for the new team.",
        fields=FIELDS,
        timeout=None,
    )


@pytest.fixture
def visitor(browser, base_url: str) -> Iterator[Any]:
    """A browser of someone with the link and no account: a context of its own."""
    with other_browser(browser, base_url, width=1000, height=820) as page:
        yield page


def waiting_link(page, workflow_id: str) -> tuple[str, str]:
    execution = run_over_api(page, workflow_id, {})
    assert execution["status"] == "waiting", execution
    url = execution["nodes"]["mail"]["outputs"]["output"]["link"]
    return execution["execution_id"], "/" + url.split("/", 3)[3]


def test_the_link_opens_a_form_that_approves_without_an_account(page, visitor) -> None:
    workflow_id = create_workflow(page, form_approval("Laptops"))
    execution_id, link = waiting_link(page, workflow_id)

    visitor.goto(link)
    expect(visitor.get_by_text("signed in as")).to_have_count(0)
    expect(visitor.get_by_role("heading", name="Buy 3 laptops?")).to_be_visible()
    expect(visitor.get_by_text("Requested by <Sam> for the new team.")).to_be_visible()
    # Its one stylesheet is allowed by the Content-Security-Policy.
    assert (
        visitor.evaluate("getComputedStyle(document.querySelector('main')).borderRadius") == "12px"
    )
    visitor.get_by_label("Amount (EUR)").fill("1800")
    visitor.get_by_label("Reason").fill("new hires")
    visitor.get_by_label("Urgent").check()
    visitor.get_by_label("Budget").select_option("IT")
    visitor.get_by_label("Comment").fill("within budget")
    screenshot(visitor, "wait-approval-form")
    visitor.get_by_role("button", name="Approve").click()
    expect(visitor.get_by_role("heading", name="Buy 3 laptops?")).to_be_visible()
    expect(visitor.get_by_text("the workflow goes on with your approval")).to_be_visible()
    screenshot(visitor, "wait-approval-done")

    execution = until_ended(page, execution_id)
    assert execution["status"] == "succeeded", execution
    approved = execution["output"]
    assert approved["data"] == {
        "amount": 1800,
        "reason": "new hires",
        "urgent": True,
        "budget": "IT",
    }
    assert approved["comment"] == "within budget"

    visitor.goto(link)  # used: the link is dead
    expect(visitor.get_by_role("heading", name="This link has expired")).to_be_visible()


def test_reject_needs_no_field(page, visitor) -> None:
    workflow_id = create_workflow(page, form_approval("Laptops, no"))
    execution_id, link = waiting_link(page, workflow_id)
    visitor.goto(link)
    visitor.get_by_label("Comment").fill("not this quarter")
    visitor.get_by_role("button", name="Reject").click()  # the amount left empty
    expect(visitor.get_by_text("the workflow goes on with your rejection")).to_be_visible()
    execution = until_ended(page, execution_id)
    assert execution["status"] == "succeeded", execution
    assert execution["nodes"]["ask"]["outputs"]["rejected"]["comment"] == "not this quarter"
    assert execution["nodes"]["yes"]["status"] == "skipped"
