"""An agent's tool call waiting for approval, in the editor's inbox: it shows the tool and
the model's arguments, its form is prefilled with them, and approving with an argument
changed runs the tool with the change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.e2e.helpers import create_workflow, run_over_api, same_origin  # noqa: E402
from tests.fakes.llm import FakeProviders, Reply  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {"order": {"type": "string", "title": "Order number"}},
    "required": ["order"],
}


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        yield fake


def workflows(page: Page, credential: str) -> str:
    """The tool and the agent that may call it once approved; the agent's id."""
    tool = {
        "schema": 1,
        "name": "Refund order",
        "description": "Refunds an order in full.",
        "input_schema": SCHEMA,
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "done",
                "type": "core.set",
                "params": {"values": {"refunded": "{{ trigger.order }}"}},
            },
            {"id": "out", "type": "core.output"},
        ],
        "edges": [{"from": "start", "to": "done"}, {"from": "done", "to": "out"}],
    }
    tool_id = create_workflow(page, tool)
    agent = {
        "schema": 1,
        "name": "Support agent",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "agent",
                "type": "ai.agent",
                "params": {
                    "prompt": "Refund my order",
                    "tools": [{"workflow": tool_id, "approval": True}],
                    "models": [{"credential": credential, "model": "gpt-test"}],
                },
            },
        ],
        "edges": [{"from": "start", "to": "agent"}],
    }
    return create_workflow(page, agent)


def ended(page: Page, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        found: dict[str, Any] = page.context.request.get(
            f"/api/v1/executions/{execution_id}"
        ).json()
        if found["status"] in {"succeeded", "failed", "cancelled"} or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_tool_call_is_approved_with_its_arguments_edited_in_the_inbox(
    page: Page, fake_llm: FakeProviders
) -> None:
    credential = page.context.request.post(
        "/api/v1/credentials",
        data={
            "name": "Fake OpenAI for the agent",
            "kind": "openai",
            "data": {"api_key": "sk-fake-e2e-5678", "base_url": fake_llm.url("openai")},
        },
        headers=same_origin(page),
    ).json()
    fake_llm.reply(
        "openai",
        Reply(tool_calls=[{"name": "refund_order", "arguments": {"order": "A-1"}}]),
        Reply(text="Refunded."),
    )
    execution = run_over_api(page, workflows(page, credential["id"]), {})
    assert execution["status"] == "waiting", execution
    execution_id = execution["execution_id"]

    page.goto("/inbox")
    item = page.locator(f'[data-testid="inbox-item"][data-execution="{execution_id}"]')
    expect(item).to_contain_text("Allow the agent to call refund_order?")
    call = item.get_by_test_id("wait-tool-call")
    expect(call).to_contain_text("refund_order")
    expect(call).to_contain_text("Refunds an order in full.")
    expect(call.get_by_test_id("wait-tool-arguments")).to_contain_text('"order": "A-1"')
    item.get_by_role("button", name="Decide…").click()
    field = item.get_by_label("Order number")
    expect(field).to_have_value("A-1")
    screenshot(page, "agent-tool-approval")
    field.fill("A-2")
    item.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("inbox-outcome")).to_contain_text(
        "Approved: the agent runs refund_order and goes on."
    )

    finished = ended(page, execution_id)
    assert finished["status"] == "succeeded", finished
    (step,) = finished["nodes"]["agent"]["outputs"]["output"]["steps"]
    assert step["arguments"] == {"order": "A-2"}
    assert step["output"] == {"refunded": "A-2"}
