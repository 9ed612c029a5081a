"""The list pages' own actions in the browser: a workflow renamed from its dialog, duplicated
and deleted once confirmed (a cancelled delete keeps it); an API key made, shown once, used,
and revoked (a failed revoke says why and the list stays as the server has it)."""

from __future__ import annotations

from tests.e2e.conftest import require_browser

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.e2e.helpers import create_workflow, same_origin  # noqa: E402

FLOW = {
    "schema": 1,
    "name": "List page flow",
    "nodes": [{"id": "start", "type": "trigger.manual"}],
    "edges": [],
}


def workflow_row(page: Page, name: str):
    return page.get_by_test_id("workflow-row").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


def test_a_workflow_is_renamed_duplicated_and_deleted_once_confirmed(page: Page) -> None:
    workflow_id = create_workflow(page, FLOW)
    page.reload()
    workflow_row(page, "List page flow").get_by_role("button", name="Rename").click()
    dialog = page.get_by_role("dialog", name="Rename the workflow")
    expect(dialog.get_by_label("Name")).to_have_value("List page flow")
    dialog.get_by_label("Name").fill("Renamed flow")
    dialog.get_by_label("Name").press("Enter")  # the form submits as its button does
    dialog.wait_for(state="detached")
    expect(workflow_row(page, "Renamed flow")).to_contain_text("v2")
    stored = page.context.request.get(f"/api/v1/workflows/{workflow_id}").json()
    assert stored["document"]["name"] == "Renamed flow"

    workflow_row(page, "Renamed flow").get_by_role("button", name="Duplicate").click()
    copy = workflow_row(page, "Renamed flow (copy)")
    expect(copy).to_have_count(1)

    # Asked once more: Cancel keeps it, Delete deletes it.
    copy.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete the workflow?")
    expect(confirm).to_contain_text("“Renamed flow (copy)” and all its versions will be deleted")
    confirm.get_by_role("button", name="Cancel").click()
    confirm.wait_for(state="detached")
    expect(copy).to_have_count(1)
    copy.get_by_role("button", name="Delete").click()
    expect(confirm.get_by_role("button", name="Delete")).to_be_focused()
    confirm.get_by_role("button", name="Delete").click()
    expect(copy).to_have_count(0)
    expect(workflow_row(page, "Renamed flow")).to_have_count(1)


def test_an_api_key_is_shown_once_and_revoked(page: Page) -> None:
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("heading", name="API keys").wait_for()
    page.get_by_label("New key for").fill("backup script")
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_role("dialog", name="Key “backup script”")
    key = shown.get_by_role("textbox", name="The new key").input_value()
    shown.get_by_role("button", name="Done").click()
    row = page.get_by_test_id("api-key-row").filter(has_text="backup script")
    expect(row).to_contain_text(key[:8])
    expect(row).to_contain_text("never")
    me = page.context.request.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.ok, me.text()

    # Revoked elsewhere first: revoking it here fails, says why, and the list is read again.
    key_id = next(
        k["id"]
        for k in page.context.request.get("/api/v1/auth/api-keys").json()
        if k["name"] == "backup script"
    )
    revoked = page.context.request.delete(
        f"/api/v1/auth/api-keys/{key_id}", headers=same_origin(page)
    )
    assert revoked.ok, revoked.text()
    row.get_by_role("button", name="Revoke backup script").click()
    expect(page.get_by_role("alert")).to_contain_text("no API key with id")
    expect(row).to_have_count(0)
