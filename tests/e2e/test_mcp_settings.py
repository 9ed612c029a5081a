"""The workflow's settings offer it as an MCP tool: the tool name (a name another
workflow offers is refused on save, and said so next to the field), the input schema, saved
with the workflow; the Run dialog then asks for the input as a form built from the schema."""

from __future__ import annotations

import re

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import create_workflow, open_workflow, stored_document  # noqa: E402

MOD = "Control"

SCHEMA = """{
  "type": "object",
  "properties": {
    "item": {"type": "string", "description": "What to order."},
    "quantity": {"type": "integer", "minimum": 1}
  },
  "required": ["item", "quantity"]
}"""


def order_workflow(name: str, mcp: dict[str, str] | None = None) -> dict[str, object]:
    document: dict[str, object] = {
        "schema": 1,
        "name": name,
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "shape",
                "type": "core.set",
                "params": {
                    "values": {"ordered": "{{ trigger.item }}", "count": "{{ trigger.quantity }}"}
                },
            },
            {"id": "result", "type": "core.output"},
        ],
        "edges": [{"from": "start", "to": "shape"}, {"from": "shape", "to": "result"}],
    }
    if mcp:
        document["mcp"] = mcp
    return document


def test_offer_as_a_tool_with_an_input_schema_then_run_from_its_form(page) -> None:
    page.goto("/")
    create_workflow(page, order_workflow("Other orders", {"name": "taken_tool"}))
    workflow_id = create_workflow(page, order_workflow("Place an order"))
    open_workflow(page, workflow_id)

    page.get_by_role("button", name="Workflow settings").click()
    settings = page.get_by_role("dialog", name="Workflow settings")
    settings.get_by_label("Description").fill("Places an order and answers what was ordered.")
    settings.get_by_role("switch", name="Offer as an MCP tool").check()
    name = settings.get_by_label("Tool name")
    expect(name).to_have_value("place_an_order")
    name.fill("place order")
    settings.get_by_text("Tool name may hold only letters, digits, _, - and .").wait_for()
    name.fill("taken_tool")
    schema = settings.get_by_label("Input schema (JSON Schema of an object)")
    schema.fill('{"type": ')
    settings.get_by_text(re.compile("^Not valid JSON")).wait_for()
    schema.fill(SCHEMA)
    expect(settings.get_by_text(re.compile("^Not valid JSON"))).to_have_count(0)
    settings.get_by_role("button", name="Done").click()

    # Another workflow offers that name: the save is refused, and the settings say why.
    page.keyboard.press(f"{MOD}+s")
    page.get_by_role("alert").filter(has_text="offered by the workflow 'Other orders'").wait_for()
    page.get_by_test_id("unsaved").wait_for()
    page.get_by_role("button", name="Workflow settings").click()
    expect(settings.get_by_test_id("tool-name-error")).to_contain_text(
        "the MCP tool name 'taken_tool' is offered by the workflow 'Other orders' already"
    )
    settings.get_by_label("Tool name").fill("place_order")
    expect(settings.get_by_test_id("tool-name-error")).to_have_count(0)
    screenshot(page, "mcp-settings")
    settings.get_by_role("button", name="Done").click()
    page.keyboard.press(f"{MOD}+s")
    page.get_by_test_id("saved").wait_for()

    stored = stored_document(page, workflow_id)
    assert stored["mcp"] == {"name": "place_order"}
    assert stored["description"] == "Places an order and answers what was ordered."
    assert stored["input_schema"] == {
        "type": "object",
        "properties": {
            "item": {"type": "string", "description": "What to order."},
            "quantity": {"type": "integer", "minimum": 1},
        },
        "required": ["item", "quantity"],
    }

    # The Run dialog asks for the input as the schema's form; a missing field stops the run.
    page.keyboard.press(f"{MOD}+Enter")
    dialog = page.get_by_role("dialog", name="Run the workflow")
    expect(dialog.get_by_role("switch", name="Input as a form")).to_be_checked()
    form = dialog.get_by_role("form", name="Run input form")
    form.get_by_label("item").fill("tea")
    dialog.get_by_role("button", name=re.compile("^Run")).click()
    expect(form.locator('[data-field="quantity"] .field-error')).to_have_text("is required")
    form.get_by_label("quantity").fill("3")
    # The raw JSON holds what the form does, and back.
    dialog.get_by_role("switch", name="Input as a form").uncheck()
    expect(dialog.get_by_label("Run input")).to_have_value(re.compile(r'"quantity": 3'))
    dialog.get_by_role("switch", name="Input as a form").check()
    expect(form.get_by_label("quantity")).to_have_value("3")
    screenshot(page, "run-form")
    dialog.get_by_role("button", name=re.compile("^Run")).click()
    page.locator('[data-testid="runbar"][data-status="succeeded"]').wait_for()

    executions = page.context.request.get(f"/api/v1/executions?workflow_id={workflow_id}").json()
    execution_id = executions["items"][0]["execution_id"]
    last = page.context.request.get(f"/api/v1/executions/{execution_id}").json()
    assert last["status"] == "succeeded"
    assert last["output"] == {"ordered": "tea", "count": 3}
