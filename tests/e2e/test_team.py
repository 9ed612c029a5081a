"""The team in the browser: the owner invites someone from the Users page and the invited
person joins from the link in a browser of their own; a viewer sees a workflow but cannot
change or run it; a member disabled by an admin is signed out."""

from __future__ import annotations

import re

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import (  # noqa: E402
    PASSWORD,
    create_workflow,
    join,
    open_workflow,
    other_browser,
)

FLOW = {
    "schema": 1,
    "name": "Shared greeting",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "greet", "type": "core.set", "params": {"values": {"text": "Hello"}}},
    ],
    "edges": [{"from": "start", "to": "greet"}],
}


def test_the_owner_invites_someone_who_joins_from_the_link(page, browser, base_url) -> None:
    page.get_by_role("link", name="Users").click()
    page.get_by_role("heading", name="Users").wait_for()
    page.get_by_label("Invite by email").fill("ada@example.com")
    page.get_by_label("Role of the invited person").select_option("editor")
    page.get_by_role("button", name="Create invite link").click()
    link = page.get_by_role("textbox", name="Invite link").input_value()
    assert re.fullmatch(rf"{re.escape(base_url)}/invite#token=[\w-]{{40,}}", link), link
    screenshot(page, "invite-link")
    page.get_by_role("button", name="Done").click()
    page.get_by_test_id("invite-row").filter(has_text="ada@example.com").wait_for()

    with other_browser(browser, base_url) as ada:
        ada.goto(link)
        expect(ada.get_by_test_id("invite-offer")).to_contain_text("ada@example.com")
        expect(ada.get_by_test_id("invite-offer")).to_contain_text("editor")
        ada.get_by_label("Choose a password").fill(PASSWORD)
        ada.get_by_label("Repeat the password").fill(PASSWORD)
        ada.get_by_role("button", name="Join").click()
        ada.get_by_role("heading", name="Workflows").wait_for()
        expect(ada.get_by_test_id("signed-in-as")).to_have_text(
            re.compile("ada@example.com.*editor")
        )
        assert ada.url == f"{base_url}/"  # the used link is not kept in the address bar
        expect(ada.get_by_role("link", name="Users")).to_have_count(0)  # not an admin's

    with other_browser(browser, base_url) as again:  # the link works once
        again.goto(link)
        again.get_by_role("alert").filter(has_text="already used").wait_for()

    page.reload()
    row = page.get_by_test_id("member-row").filter(has_text="ada@example.com")
    expect(row.get_by_label("Role of ada@example.com")).to_have_value("editor")
    expect(page.get_by_test_id("invite-row")).to_have_count(0)
    screenshot(page, "users")


def test_a_viewer_sees_the_workflow_but_changes_and_runs_nothing(page, browser, base_url) -> None:
    workflow_id = create_workflow(page, FLOW)
    with other_browser(browser, base_url) as viewer:
        join(page, viewer, "vic@example.com", "viewer")
        viewer.goto("/")
        viewer.get_by_role("heading", name="Workflows").wait_for()
        expect(viewer.get_by_role("button", name="New workflow")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Import…")).to_have_count(0)

        open_workflow(viewer, workflow_id)
        viewer.get_by_test_id("node-greet").wait_for()
        for name in ("Save", "▶ Run"):
            button = viewer.get_by_role("button", name=name, exact=True)
            assert button.count() == 0 or button.is_disabled(), name
        expect(viewer.get_by_label("Workflow name")).not_to_be_editable()
        viewer.get_by_test_id("node-greet").click()
        form = viewer.locator(".param-form").first
        form.wait_for()
        fields = form.locator("input, textarea, select")
        assert fields.count() > 0
        for index in range(fields.count()):
            expect(fields.nth(index)).to_be_disabled()
        viewer.keyboard.press("Delete")  # nothing to delete with
        expect(viewer.get_by_test_id("node-greet")).to_have_count(1)
        expect(viewer.get_by_text("valid", exact=False).first).to_be_visible()  # checked
        expect(viewer.get_by_role("alert")).to_have_count(0)  # nothing it asked was refused
        screenshot(viewer, "viewer-editor")

    stored = page.context.request.get(f"/api/v1/workflows/{workflow_id}").json()
    assert stored["version"] == 1
    executions = page.context.request.get(f"/api/v1/executions?workflow_id={workflow_id}")
    assert executions.json()["total"] == 0


def test_a_member_disabled_by_an_admin_is_signed_out(page, browser, base_url) -> None:
    with other_browser(browser, base_url) as member:
        join(page, member, "eve@example.com", "editor")
        member.goto("/")
        member.get_by_role("heading", name="Workflows").wait_for()

        page.get_by_role("link", name="Users").click()
        page.get_by_role("button", name="Disable eve@example.com").click()
        page.get_by_role("dialog").get_by_role("button", name="Disable").click()
        row = page.get_by_test_id("member-row").filter(has_text="eve@example.com")
        expect(row).to_contain_text("disabled")

        member.get_by_role("link", name="Executions").click()  # their next request
        member.get_by_role("heading", name="Sign in").wait_for()
        member.get_by_label("Email").fill("eve@example.com")
        member.get_by_label("Password").fill(PASSWORD)
        member.get_by_role("button", name="Sign in").click()
        member.get_by_role("alert").filter(has_text="disabled").wait_for()

        page.get_by_role("button", name="Enable eve@example.com").click()
        expect(row).to_contain_text("active")
        member.get_by_role("button", name="Sign in").click()
        member.get_by_role("heading", name="Executions").wait_for()  # back where they were
