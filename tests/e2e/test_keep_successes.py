"""The Executions page tells the successful runs it does not list because their workflow
keeps only a count of them (``settings.keep_successes: count``)."""

from __future__ import annotations

from tests.e2e.conftest import require_browser, screenshot

require_browser()

from playwright.sync_api import expect  # noqa: E402

from tests.e2e.helpers import create_workflow, run_over_api  # noqa: E402


def counted(name: str) -> dict[str, object]:
    return {
        "schema": 1,
        "name": name,
        "settings": {"keep_successes": "count"},
        "nodes": [{"id": "start", "type": "trigger.manual"}, {"id": "out", "type": "core.output"}],
        "edges": [{"from": "start", "to": "out"}],
    }


def test_the_executions_page_tells_the_successes_not_kept(page) -> None:
    workflow_id = create_workflow(page, counted("Counted only"))
    for n in range(3):
        execution = run_over_api(page, workflow_id, {"input": {"n": n}})
        assert (execution["status"], execution["kept"]) == ("succeeded", "count")

    page.goto(f"/executions?workflow={workflow_id}")
    page.get_by_role("heading", name="Executions").wait_for()
    page.get_by_text("No executions match").wait_for()
    left_out = page.get_by_test_id("executions-not-kept")
    expect(left_out).to_have_text("and 3 successful runs not kept, the last just now")
    screenshot(page, "executions-not-kept")

    page.get_by_label("Status").select_option("failed")
    expect(left_out).to_have_count(0)  # they could not be failures
