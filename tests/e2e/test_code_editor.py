"""The code node in the editor: its code in a code editor (CodeMirror, Python), run, its
output and log; an error marks its line in the code."""

from __future__ import annotations

import re

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import create_workflow, open_workflow  # noqa: E402

DOUBLES = """def main(input):
    print("doubling", input["n"])
    return {"doubled": input["n"] * 2}
"""
FAILS = """def main(input):
    n = input["n"]
    return n / (n - n)
"""


def run(page, input_text: str) -> None:
    page.get_by_role("button", name="▶ Run", exact=True).click()
    page.get_by_label("Run input").fill(input_text)
    page.get_by_role("button", name=re.compile("^Run")).last.click()


def test_code_is_typed_in_a_code_editor_runs_and_its_error_line_is_marked(page) -> None:
    workflow_id = create_workflow(
        page,
        {
            "schema": 1,
            "name": "Doubler",
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "code", "type": "code.python"},
                {"id": "result", "type": "core.output"},
            ],
            "edges": [{"from": "start", "to": "code"}, {"from": "code", "to": "result"}],
        },
    )
    open_workflow(page, workflow_id)
    page.get_by_test_id("node-code").click()
    editor = page.get_by_test_id("code-input")
    content = editor.locator(".cm-content")
    content.wait_for()
    # The node's example, with line numbers and Python's highlighting.
    expect(editor.locator(".cm-line").first).to_have_text("def main(input):")
    expect(editor.locator(".cm-lineNumbers .cm-gutterElement", has_text="3")).to_have_count(1)
    keyword = editor.locator(".cm-line").first.locator("span", has_text="def").first
    assert keyword.evaluate("span => getComputedStyle(span).color") != content.evaluate(
        "element => getComputedStyle(element).color"
    )

    content.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(DOUBLES)
    expect(editor.locator(".cm-line").nth(2)).to_have_text('    return {"doubled": input["n"] * 2}')
    run(page, '{"n": 21}')
    page.locator('[data-testid="node-code"][data-status="succeeded"]').wait_for()
    page.get_by_role("tab", name="Input / Output").click()
    page.get_by_test_id("node-progress").get_by_text("doubling 21").wait_for()
    page.get_by_test_id("node-io-output").get_by_text("42").first.wait_for()
    screenshot(page, "code-node")

    page.get_by_role("tab", name="Parameters").click()
    content.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(FAILS)
    run(page, '{"n": 21}')
    page.locator('[data-testid="node-code"][data-status="failed"]').wait_for()
    expect(editor.locator(".cm-error-line")).to_have_count(1)
    expect(editor.locator(".cm-error-line")).to_have_text("    return n / (n - n)")
    screenshot(page, "code-node-error")
    page.get_by_role("tab", name="Input / Output").click()
    page.get_by_test_id("node-error").get_by_text("line 3: ZeroDivisionError").wait_for()
