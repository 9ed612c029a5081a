"""The MCP node in the editor: its Tool field lists the tools of the server its credential
names (an SDK server over streamable HTTP on 127.0.0.1), shows the chosen tool's
description and argument schema, and the node runs the chosen tool."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import create_workflow, open_workflow, same_origin  # noqa: E402
from tests.fakes.mcp import http_tools_server  # noqa: E402


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with http_tools_server() as url:
        yield url


def test_the_tool_field_offers_the_servers_tools_and_their_schemas(page, mcp_url) -> None:
    made = page.context.request.post(
        "/api/v1/credentials",
        data={
            "name": "Test tools",
            "kind": "mcp_server",
            "data": {"transport": "http", "url": mcp_url},
        },
        headers=same_origin(page),
    )
    assert made.ok, made.text()
    credential = made.json()["id"]
    workflow_id = create_workflow(
        page,
        {
            "schema": 1,
            "name": "Adder",
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "tool",
                    "type": "mcp.call_tool",
                    "params": {
                        "credential": credential,
                        "tool": "echo",
                        "arguments": {"a": 40, "b": 2},
                    },
                },
                {"id": "result", "type": "core.output"},
            ],
            "edges": [{"from": "start", "to": "tool"}, {"from": "tool", "to": "result"}],
        },
    )
    open_workflow(page, workflow_id)
    page.get_by_test_id("node-tool").click()
    picker = page.get_by_label("Tool", exact=True)
    expect(picker).to_have_value("echo")
    expect(picker.locator("option")).to_contain_text(["add", "echo", "fail", "hang", "pixel"])
    chosen = page.locator(".mcp-tool")
    expect(chosen).to_have_attribute("data-tool", "echo")
    expect(chosen).to_contain_text("Says the text back.")

    picker.select_option("add")
    expect(chosen).to_have_attribute("data-tool", "add")
    expect(chosen).to_contain_text("Adds two integers.")
    expect(chosen.locator("pre")).to_contain_text('"required"')
    screenshot(page, "mcp-tool-picker")

    page.get_by_role("button", name="▶ Run", exact=True).click()
    page.get_by_label("Run input").fill("{}")
    page.get_by_role("button", name=re.compile("^Run")).last.click()
    page.locator('[data-testid="node-tool"][data-status="succeeded"]').wait_for()
    page.get_by_role("tab", name="Input / Output").click()
    page.get_by_test_id("node-io-output").get_by_text("42").first.wait_for()
